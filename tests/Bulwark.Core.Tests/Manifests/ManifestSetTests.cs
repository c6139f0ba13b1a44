using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Core.Tests.Manifests;

public sealed class ManifestSetTests
{
    [Fact]
    public void Validate_ValidSet_ReturnsEveryManifestInApplyOrderWithoutProblems()
    {
        var documents = new[]
        {
            Doc("a.yaml", 1, """{"kind":"Identity","name":"carol","roles":["admin"]}"""),
            Doc("a.yaml", 6, """{"kind":"Identity","name":"alice","roles":["viewer","operator"]}"""),
            Doc("b.yaml", 1, """{"kind":"Identity","name":"bob","roles":["responder"],"description":"b"}"""),
        };

        var valid = ManifestSet.Validate(documents, out var problems);

        problems.ShouldBeEmpty();
        valid.Select(v => v.Name).ShouldBe(["carol", "alice", "bob"], "one kind: file order is kept");
        valid.ShouldAllBe(v => ReferenceEquals(v.Kind, IdentityKind.Instance));
        valid.Select(v => v.Document).ShouldBe(documents);
        var alice = valid[1].Definition.ShouldBeOfType<IdentityDefinition>();
        alice.Roles.ShouldBe([Role.Viewer, Role.Operator]);
    }

    [Fact]
    public void Validate_AReadOnlyStatus_AsAGetAnswerCarries_IsIgnored_AndTheDocumentKeepsIt()
    {
        var source = Doc("s.json", 1, """{"kind":"Source","name":"gh","scheme":"github","secrets":["env:GH"],"normalizer":"event-v1","status":{"secrets":[{"ref":"env:GH","resolves":true}]}}""");

        var valid = ManifestSet.Validate([source], out var problems);

        problems.ShouldBeEmpty();
        valid.ShouldHaveSingleItem().Name.ShouldBe("gh");
        source.Body.ContainsKey("status").ShouldBeTrue();
    }

    [Fact]
    public void Validate_ApplyOrder_FollowsTheKindOrderOfManifestKinds()
    {
        var documents = Enumerable.Range(0, 5)
            .Select(i => Doc("m.yaml", i * 5 + 1, $$"""{"kind":"Identity","name":"user-{{i}}","roles":["viewer"]}"""))
            .ToList();

        var valid = ManifestSet.Validate(documents, out _);

        valid.Select(v => ManifestKinds.OrderOf(v.Kind)).ShouldBeInOrder();
        valid.Select(v => v.Document.Line).ShouldBe([1, 6, 11, 16, 21]);
    }

    [Fact]
    public void Validate_Empty_IsValidAndEmpty()
    {
        ManifestSet.Validate([], out var problems).ShouldBeEmpty();
        problems.ShouldBeEmpty();
    }

    [Fact]
    public void Validate_UnknownKind_IsReportedAtKindWithItsLine()
    {
        var document = Doc("a.yaml", 3, """{"kind":"Widget","name":"w"}""", ("/kind", 4), ("/name", 5));

        var valid = ManifestSet.Validate([document], out var problems);

        valid.ShouldBeEmpty();
        var problem = problems.ShouldHaveSingleItem();
        problem.Source.ShouldBe("a.yaml");
        problem.Line.ShouldBe(4);
        problem.Path.ShouldBe("/kind");
        problem.Message.ShouldContain("'Widget' is not a kind");
        problem.Message.ShouldContain("Identity");
    }

    [Theory]
    [InlineData("""{"name":"alice","roles":["viewer"]}""")]
    [InlineData("""{"kind":null,"name":"alice","roles":["viewer"]}""")]
    [InlineData("""{"kind":7,"name":"alice","roles":["viewer"]}""")]
    public void Validate_MissingOrNonStringKind_IsRequiredAtTheDocumentLine(string json)
    {
        var document = Doc("a.yaml", 12, json, ("/name", 13));

        var valid = ManifestSet.Validate([document], out var problems);

        valid.ShouldBeEmpty();
        var problem = problems.ShouldHaveSingleItem();
        problem.Path.ShouldBe("/kind");
        problem.Line.ShouldBe(12);
        problem.Message.ShouldContain("is required");
        problem.Message.ShouldContain("Identity");
    }

    [Fact]
    public void Validate_DuplicateKindAndName_NamesTheFirstLocation()
    {
        var documents = new[]
        {
            Doc("a.yaml", 1, """{"kind":"Identity","name":"alice","roles":["viewer"]}""", ("/name", 2)),
            Doc("a.yaml", 5, """{"kind":"Identity","name":"bob","roles":["viewer"]}""", ("/name", 6)),
            Doc("b.yaml", 10, """{"kind":"Identity","name":"alice","roles":["admin"]}""", ("/name", 11)),
            Doc("c.yaml", 20, """{"kind":"Identity","name":"alice","roles":["operator"]}""", ("/name", 22)),
        };

        var valid = ManifestSet.Validate(documents, out var problems);

        valid.ShouldBeEmpty();
        problems.Count.ShouldBe(2);
        problems[0].ShouldBe(problems[0] with { Source = "b.yaml", Line = 11, Path = "/name" });
        problems[1].ShouldBe(problems[1] with { Source = "c.yaml", Line = 22, Path = "/name" });
        problems.ShouldAllBe(p => p.Message.Contains("Identity 'alice' is also defined at a.yaml:1", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SameNameInvalidFirst_IsStillReportedAsADuplicate()
    {
        var documents = new[]
        {
            Doc("a.yaml", 1, """{"kind":"Identity","name":"alice","roles":["root"]}"""),
            Doc("a.yaml", 5, """{"kind":"Identity","name":"alice","roles":["viewer"]}"""),
        };

        ManifestSet.Validate(documents, out var problems);

        problems.Select(p => (p.Line, p.Path)).ShouldBe([(1, "/roles/0"), (5, "/name")]);
        problems[1].Message.ShouldContain("also defined at a.yaml:1");
    }

    [Fact]
    public void Validate_AnyProblem_ReturnsNoManifestsButEveryProblemFromEveryDocument()
    {
        var documents = new[]
        {
            Doc("a.yaml", 1, """{"kind":"Identity","name":"alice","roles":["viewer"]}"""),
            Doc("a.yaml", 5, """{"kind":"Identity","name":"Bob","roles":["viewer","root"],"extra":1}"""),
            Doc("b.yaml", 1, """{"kind":"Nope"}"""),
            Doc("b.yaml", 9, """{"kind":"Identity","name":"carol","roles":["admin"]}"""),
        };

        var valid = ManifestSet.Validate(documents, out var problems);

        valid.ShouldBeEmpty();
        problems.Select(p => (p.Source, p.Line, p.Path)).ShouldBe(
            [("a.yaml", 5, "/name"), ("a.yaml", 5, "/roles/1"), ("a.yaml", 5, "/extra"), ("b.yaml", 1, "/kind")],
            ignoreOrder: true);
    }

    [Fact]
    public void Validate_ErrorLines_ComeFromTheValueOrItsNearestListedParent()
    {
        var document = Doc(
            "ids.yaml",
            30,
            """{"kind":"Identity","name":"alice","roles":["viewer","root","oops"],"description":5,"extra":true}""",
            ("/kind", 31),
            ("/name", 32),
            ("/roles", 33),
            ("/roles/1", 35),
            ("/extra", 40));

        ManifestSet.Validate([document], out var problems);

        var lines = problems.ToDictionary(p => p.Path, p => p.Line);
        lines["/roles/1"].ShouldBe(35, "listed itself");
        lines["/roles/2"].ShouldBe(33, "falls back to /roles");
        lines["/description"].ShouldBe(30, "nothing listed: the document's line");
        lines["/extra"].ShouldBe(40);
        lines.Count.ShouldBe(4);
    }

    [Fact]
    public void LineOf_Pointer_IsTheNearestListedAncestorOrTheDocumentLine()
    {
        var document = Doc("f", 7, "{}", ("/a", 8), ("/a/b", 9), ("/a/b/0", 10), ("/c~1d", 12));

        document.LineOf("/a/b/0").ShouldBe(10);
        document.LineOf("/a/b/1").ShouldBe(9);
        document.LineOf("/a/x/y/z").ShouldBe(8);
        document.LineOf("/c~1d").ShouldBe(12);
        document.LineOf("/c~1d/e").ShouldBe(12);
        document.LineOf("/c").ShouldBe(7);
        document.LineOf("/zz").ShouldBe(7);
        document.LineOf(string.Empty).ShouldBe(7);
    }

    [Fact]
    public void LineOf_RootListed_IsUsedAsTheLastFallback()
    {
        var document = Doc("f", 7, "{}", (string.Empty, 5));

        document.LineOf("/x/y").ShouldBe(5);
    }

    [Fact]
    public void LineOf_NoLines_IsTheDocumentLine()
    {
        var document = new ManifestDocument { Source = "f", Line = 3, Body = new JsonObject() };

        document.LineOf("/a/b").ShouldBe(3);
    }

    [Fact]
    public void ManifestProblem_ToString_IsFileLinePathMessage()
    {
        new ManifestProblem("a.yaml", 4, "/roles/1", "bad").ToString().ShouldBe("a.yaml:4: /roles/1: bad");
        new ManifestProblem("a.yaml", 4, "", "bad").ToString().ShouldBe("a.yaml:4: bad");
    }

    [Fact]
    public void ManifestKinds_Find_IsCaseSensitiveByKindName()
    {
        ManifestKinds.Find("Identity").ShouldBeSameAs(IdentityKind.Instance);
        ManifestKinds.Find("identity").ShouldBeNull();
        ManifestKinds.Find("identities").ShouldBeNull();
        ManifestKinds.Find(null).ShouldBeNull();
        ManifestKinds.Names.ShouldContain("Identity", Case.Sensitive);
    }

    [Fact]
    public void ManifestKinds_OrderOf_IsTheIndexInAll()
    {
        for (var i = 0; i < ManifestKinds.All.Count; i++)
        {
            ManifestKinds.OrderOf(ManifestKinds.All[i]).ShouldBe(i);
        }

        ManifestKinds.All.Select(k => k.Kind).ShouldBeUnique();
        ManifestKinds.All.Select(k => k.Plural).ShouldBeUnique();
        ManifestKinds.OrderOf(ManifestKinds.All[0]).ShouldBe(0, "identities apply first");
        ManifestKinds.All[0].ShouldBeSameAs(IdentityKind.Instance);
    }

    private static ManifestDocument Doc(string source, int line, string json, params (string Pointer, int Line)[] lines) => new()
    {
        Source = source,
        Line = line,
        Body = JsonNode.Parse(json)!.AsObject(),
        Lines = lines.ToDictionary(l => l.Pointer, l => l.Line),
    };
}
