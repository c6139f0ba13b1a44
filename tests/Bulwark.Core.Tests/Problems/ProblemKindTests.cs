using System.Reflection;
using System.Text.RegularExpressions;
using Bulwark.Problems;

namespace Bulwark.Core.Tests.Problems;

public sealed partial class ProblemKindTests
{
    /// <summary>
    /// The wire contract: clients match on these type URIs and statuses. Add new kinds here; never rename or renumber
    /// an existing one.
    /// </summary>
    private static readonly (string Slug, int Status)[] Pinned =
    [
        ("malformed-request", 400),
        ("unauthenticated", 401),
        ("forbidden", 403),
        ("not-found", 404),
        ("method-not-allowed", 405),
        ("conflict", 409),
        ("idempotency-in-progress", 409),
        ("payload-too-large", 413),
        ("unsupported-media-type", 415),
        ("validation", 422),
        ("idempotency-key-reused", 422),
        ("internal", 500),
        ("unavailable", 503),
        ("rate-limited", 429),
        ("challenge-required", 429),
        ("webhook-signature-invalid", 401),
        ("webhook-timestamp-outside-window", 401),
    ];

    [Fact]
    public void All_SlugsAndStatuses_ArePinned()
    {
        ProblemKind.All.Select(k => (k.Slug, k.Status)).ShouldBe(Pinned, ignoreOrder: true);
    }

    [Fact]
    public void Type_EveryKind_IsTheUrnWithItsSlug()
    {
        foreach (var kind in ProblemKind.All)
        {
            kind.Type.ShouldBe("urn:bulwark:problem:" + kind.Slug);
        }

        ProblemKind.Validation.Type.ShouldBe("urn:bulwark:problem:validation");
    }

    [Fact]
    public void All_SlugsAndTypes_AreUnique()
    {
        ProblemKind.All.Select(k => k.Slug).ShouldBeUnique();
        ProblemKind.All.Select(k => k.Type).ShouldBeUnique();
    }

    [Fact]
    public void All_Slugs_AreLowercaseKebabCase()
    {
        ProblemKind.All.ShouldAllBe(k => SlugPattern().IsMatch(k.Slug));
    }

    [Fact]
    public void All_Statuses_AreClientOrServerErrors()
    {
        ProblemKind.All.ShouldAllBe(k => k.Status >= 400 && k.Status <= 599);
    }

    [Fact]
    public void All_Titles_AreNonEmpty()
    {
        ProblemKind.All.ShouldAllBe(k => !string.IsNullOrWhiteSpace(k.Title));
    }

    [Fact]
    public void All_ListsEveryStaticKindExactlyOnce()
    {
        var declared = typeof(ProblemKind)
            .GetProperties(BindingFlags.Public | BindingFlags.Static)
            .Where(p => p.PropertyType == typeof(ProblemKind))
            .Select(p => (ProblemKind)p.GetValue(null)!)
            .ToList();

        declared.Count.ShouldBe(Pinned.Length);
        ProblemKind.All.Count.ShouldBe(declared.Count);
        foreach (var kind in declared)
        {
            ProblemKind.All.Count(k => ReferenceEquals(k, kind)).ShouldBe(1, kind.Slug);
        }
    }

    [GeneratedRegex("^[a-z]+(-[a-z]+)*$", RegexOptions.CultureInvariant)]
    private static partial Regex SlugPattern();
}
