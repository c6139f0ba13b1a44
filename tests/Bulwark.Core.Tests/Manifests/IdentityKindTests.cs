using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Manifests;

namespace Bulwark.Core.Tests.Manifests;

public sealed class IdentityKindTests
{
    private static readonly IdentityKind Kind = IdentityKind.Instance;

    [Fact]
    public void Kind_NamesAndCapability_ArePinned()
    {
        // "kind:" values and collection names appear in manifests and URLs.
        Kind.Kind.ShouldBe("Identity");
        Kind.Plural.ShouldBe("identities");
        Kind.ChangeCapability.ShouldBe(Capability.Administer);
    }

    [Fact]
    public void Read_ValidDocument_GivesTheDefinition()
    {
        var result = Kind.Read(Parse("""{"kind":"Identity","name":"alice","roles":["viewer"],"description":"On call"}"""));

        result.IsValid.ShouldBeTrue(string.Join("; ", result.Errors));
        result.Errors.ShouldBeEmpty();
        result.Value.ShouldNotBeNull();
        result.Value.Name.ShouldBe("alice");
        result.Value.Roles.ShouldBe([Role.Viewer]);
        result.Value.Description.ShouldBe("On call");
    }

    [Fact]
    public void Read_KindAbsent_IsFine()
    {
        var result = Kind.Read(Parse("""{"name":"ci-deployer","roles":["operator"]}"""));

        result.IsValid.ShouldBeTrue(string.Join("; ", result.Errors));
        result.Value!.Name.ShouldBe("ci-deployer");
        result.Value.Description.ShouldBeNull();
    }

    [Fact]
    public void Read_RolesInAnyOrder_AreSortedInEnumOrder()
    {
        var result = Kind.Read(Parse("""{"name":"alice","roles":["admin","viewer","approver","operator","responder"]}"""));

        result.Value!.Roles.ShouldBe([Role.Viewer, Role.Operator, Role.Responder, Role.Approver, Role.Admin]);
    }

    [Fact]
    public void Read_DuplicateRole_IsRejectedAtTheSecondOccurrence()
    {
        var result = Kind.Read(Parse("""{"name":"alice","roles":["viewer","admin","viewer"]}"""));

        result.IsValid.ShouldBeFalse();
        result.Value.ShouldBeNull();
        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/roles/2");
        error.Message.ShouldContain("twice");
    }

    [Fact]
    public void Read_SeveralProblems_ReportsEveryErrorAtOnceWithItsPath()
    {
        var result = Kind.Read(Parse("""
            {"name":"Not A Name","roles":["viewer","root","Admin"],"description":42,"unknownField":true,"a/b~c":1}
            """));

        result.IsValid.ShouldBeFalse();
        result.Value.ShouldBeNull();
        result.Errors.Select(e => e.Path).ShouldBe(
            ["/name", "/roles/1", "/roles/2", "/description", "/unknownField", "/a~1b~0c"],
            ignoreOrder: true);
        result.Errors.Single(e => e.Path == "/roles/1").Message.ShouldContain("'root' is not a role");
        result.Errors.Single(e => e.Path == "/description").Message.ShouldContain("must be a string, not a number");
        result.Errors.Single(e => e.Path == "/unknownField").Message.ShouldBe("unknown field");
    }

    [Theory]
    [InlineData("""{"name":5,"roles":["viewer"]}""", "/name", "must be a string, not a number")]
    [InlineData("""{"name":["alice"],"roles":["viewer"]}""", "/name", "must be a string, not an array")]
    [InlineData("""{"name":"alice","roles":"viewer"}""", "/roles", "must be an array of strings, not a string")]
    [InlineData("""{"name":"alice","roles":{"viewer":true}}""", "/roles", "must be an array of strings, not an object")]
    [InlineData("""{"name":"alice","roles":["viewer",true]}""", "/roles/1", "must be a string, not a boolean")]
    [InlineData("""{"name":"alice","roles":[null]}""", "/roles/0", "must be a string, not null")]
    [InlineData("""{"name":"alice","roles":["viewer"],"description":{}}""", "/description", "must be a string, not an object")]
    [InlineData("""{"kind":5,"name":"alice","roles":["viewer"]}""", "/kind", "must be a string")]
    [InlineData("""{"kind":null,"name":"alice","roles":["viewer"]}""", "/kind", "must be a string")]
    public void Read_WrongType_IsReportedAtItsPath(string json, string path, string message)
    {
        var result = Kind.Read(Parse(json));

        result.Value.ShouldBeNull();
        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe(path);
        error.Message.ShouldContain(message);
    }

    [Theory]
    [InlineData("""{"roles":["viewer"]}""", "/name")]
    [InlineData("""{"name":null,"roles":["viewer"]}""", "/name")]
    [InlineData("""{"name":"alice"}""", "/roles")]
    [InlineData("""{"name":"alice","roles":null}""", "/roles")]
    public void Read_RequiredFieldMissingOrNull_IsRequired(string json, string path)
    {
        var result = Kind.Read(Parse(json));

        result.Value.ShouldBeNull();
        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe(path);
        error.Message.ShouldBe("is required");
    }

    [Fact]
    public void Read_EmptyDocument_ReportsBothRequiredFields()
    {
        var result = Kind.Read(new JsonObject());

        result.Errors.Select(e => e.Path).ShouldBe(["/name", "/roles"], ignoreOrder: true);
    }

    [Fact]
    public void Read_EmptyRoles_IsRejected()
    {
        var result = Kind.Read(Parse("""{"name":"alice","roles":[]}"""));

        result.Value.ShouldBeNull();
        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/roles");
        error.Message.ShouldContain("at least one role");
    }

    [Fact]
    public void Read_OtherKind_IsRejectedAtKind()
    {
        var result = Kind.Read(Parse("""{"kind":"Flag","name":"alice","roles":["viewer"]}"""));

        result.Value.ShouldBeNull();
        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/kind");
        error.Message.ShouldContain("'Identity'");
        error.Message.ShouldContain("'Flag'");
    }

    [Fact]
    public void Read_KindInOtherCase_IsRejected()
    {
        var result = Kind.Read(Parse("""{"kind":"identity","name":"alice","roles":["viewer"]}"""));

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/kind");
    }

    [Fact]
    public void Read_NullDescription_IsNoDescription()
    {
        var result = Kind.Read(Parse("""{"name":"alice","roles":["viewer"],"description":null}"""));

        result.IsValid.ShouldBeTrue(string.Join("; ", result.Errors));
        result.Value!.Description.ShouldBeNull();
    }

    [Fact]
    public void Read_DescriptionLength_IsLimitedTo500()
    {
        Kind.Read(Document("alice", description: new string('d', 500))).IsValid.ShouldBeTrue();

        var result = Kind.Read(Document("alice", description: new string('d', 501)));

        var error = result.Errors.ShouldHaveSingleItem();
        error.Path.ShouldBe("/description");
        error.Message.ShouldContain("500");
    }

    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("alice")]
    [InlineData("ci-deployer")]
    [InlineData("9lives")]
    [InlineData("a.b_c-d")]
    [InlineData("a-")]
    [InlineData("a.")]
    public void Read_ValidName_IsAccepted(string name)
    {
        var result = Kind.Read(Document(name));

        result.IsValid.ShouldBeTrue(string.Join("; ", result.Errors));
        result.Value!.Name.ShouldBe(name);
    }

    [Fact]
    public void Read_NameOf63Characters_IsAccepted_64IsNot()
    {
        var longest = "a" + new string('b', 62);
        Kind.Read(Document(longest)).IsValid.ShouldBeTrue();

        var result = Kind.Read(Document(longest + "c"));

        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/name");
    }

    [Theory]
    [InlineData("")]
    [InlineData("Alice")]
    [InlineData("ALICE")]
    [InlineData("-alice")]
    [InlineData(".alice")]
    [InlineData("_alice")]
    [InlineData("al ice")]
    [InlineData("al/ice")]
    [InlineData("al:ice")]
    [InlineData("alïce")]
    [InlineData(" alice")]
    [InlineData("alice ")]
    [InlineData("ali\tce")]
    [InlineData("alice\n")]
    [InlineData("alice\r\n")]
    [InlineData("\nalice")]
    public void Read_InvalidName_IsRejectedAtName(string name)
    {
        var result = Kind.Read(Document(name));

        result.IsValid.ShouldBeFalse($"'{name}' was accepted");
        result.Value.ShouldBeNull();
        result.Errors.ShouldHaveSingleItem().Path.ShouldBe("/name");
    }

    [Fact]
    public void ToDocument_Definition_HasKindNameRolesAndDescription()
    {
        var definition = new IdentityDefinition { Name = "alice", Roles = [Role.Operator, Role.Admin], Description = "d" };

        var document = Kind.ToDocument(definition);

        document["kind"]!.GetValue<string>().ShouldBe("Identity");
        document["name"]!.GetValue<string>().ShouldBe("alice");
        document["roles"]!.AsArray().Select(r => r!.GetValue<string>()).ShouldBe(["operator", "admin"]);
        document["description"]!.GetValue<string>().ShouldBe("d");
    }

    [Fact]
    public void ToDocument_NoDescription_OmitsTheField()
    {
        var document = Kind.ToDocument(new IdentityDefinition { Name = "alice", Roles = [Role.Viewer] });

        document.ContainsKey("description").ShouldBeFalse();
        document.Select(p => p.Key).ShouldBe(["kind", "name", "roles"], ignoreOrder: true);
    }

    [Fact]
    public void ToDocument_RandomDefinitions_RoundTripThroughRead()
    {
        var random = new Random(12345);
        for (var round = 0; round < 300; round++)
        {
            var roles = Roles.All.Where(_ => random.Next(2) == 0).ToList();
            if (roles.Count == 0)
            {
                roles.Add(Roles.All[random.Next(Roles.All.Count)]);
            }

            var definition = new IdentityDefinition
            {
                Name = "user-" + random.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture),
                Roles = roles,
                Description = random.Next(3) switch { 0 => null, 1 => string.Empty, _ => "Zoë — équipe 日本 \"x\"" },
            };

            var result = Kind.Read(Kind.ToDocument(definition));

            result.IsValid.ShouldBeTrue($"round {round}: {string.Join("; ", result.Errors)}");
            result.Value!.SameAs(definition).ShouldBeTrue($"round {round}");
        }
    }

    [Fact]
    public void NameOf_Definition_IsItsName()
    {
        Kind.NameOf(new IdentityDefinition { Name = "bob", Roles = [Role.Viewer] }).ShouldBe("bob");
    }

    [Fact]
    public void From_Record_KeepsTheDeclaredPart()
    {
        var time = new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero);
        var record = new IdentityRecord { Name = "bob", Roles = [Role.Viewer, Role.Approver], Description = "x", CreatedAt = time, UpdatedAt = time };

        var definition = IdentityDefinition.From(record);

        definition.SameAs(new IdentityDefinition { Name = "bob", Roles = [Role.Viewer, Role.Approver], Description = "x" }).ShouldBeTrue();
    }

    [Fact]
    public void SameAs_AnyDifference_IsFalse()
    {
        var definition = new IdentityDefinition { Name = "bob", Roles = [Role.Viewer, Role.Admin], Description = "x" };

        definition.SameAs(definition with { Roles = [Role.Viewer, Role.Admin] }).ShouldBeTrue();
        definition.SameAs(definition with { Name = "bobby" }).ShouldBeFalse();
        definition.SameAs(definition with { Description = null }).ShouldBeFalse();
        definition.SameAs(definition with { Roles = [Role.Viewer] }).ShouldBeFalse();
        definition.SameAs(definition with { Roles = [Role.Admin, Role.Viewer] }).ShouldBeFalse();
    }

    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    private static JsonObject Document(string name, string? description = null)
    {
        var document = new JsonObject { ["name"] = name, ["roles"] = new JsonArray("viewer") };
        if (description is not null)
        {
            document["description"] = description;
        }

        return document;
    }
}
