using Bulwark.Ingest;

namespace Bulwark.Core.Tests.Ingest.Normalizers;

public sealed class NormalizersTests
{
    [Fact]
    public void All_ListsEveryNormalizerOnceInItsOrder()
    {
        Bulwark.Ingest.Normalizers.All.Select(n => n.Name).ShouldBe(["event-v1", "okta", "auth0", "meta", "x", "linkedin", "mapping"]);
    }

    [Theory]
    [InlineData("event-v1", "internal")]
    [InlineData("okta", "okta")]
    [InlineData("auth0", "auth0")]
    [InlineData("meta", "facebook")]
    [InlineData("x", "x")]
    [InlineData("linkedin", "linkedin")]
    [InlineData("mapping", "internal")]
    public void Find_KnownName_ReturnsThatNormalizerAndItsDefaultPlatform(string name, string platform)
    {
        var normalizer = Bulwark.Ingest.Normalizers.Find(name).ShouldNotBeNull();

        normalizer.Name.ShouldBe(name);
        normalizer.DefaultPlatform.ShouldBe(platform);
    }

    [Theory]
    [InlineData("OKTA")]
    [InlineData("github")]
    [InlineData("")]
    [InlineData(null)]
    public void Find_UnknownName_ReturnsNull(string? name) =>
        Bulwark.Ingest.Normalizers.Find(name).ShouldBeNull();

    [Fact]
    public void Normalize_NullInput_ThrowsArgumentNull()
    {
        foreach (var normalizer in Bulwark.Ingest.Normalizers.All)
        {
            Should.Throw<ArgumentNullException>(() => normalizer.Normalize(null!));
        }
    }

    [Fact]
    public void Normalize_SameInputFromManyThreads_GivesTheSameEvents()
    {
        var body = OktaNormalizerTests.Delivery(OktaNormalizerTests.LogEvent("u1", "user.session.start"), OktaNormalizerTests.LogEvent("u2", "user.session.end"));
        var expected = NormalizerKit.Clean(NormalizerKit.Run("okta", body)).Select(e => e.Id + e.EventType).ToArray();

        Parallel.For(0, 64, _ =>
        {
            var events = NormalizerKit.Clean(NormalizerKit.Run("okta", body));
            events.Select(e => e.Id + e.EventType).ShouldBe(expected);
        });
    }
}
