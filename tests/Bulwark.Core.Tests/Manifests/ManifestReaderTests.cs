using System.Text.Json.Nodes;
using Bulwark.Manifests;

namespace Bulwark.Core.Tests.Manifests;

public sealed class ManifestReaderTests
{
    private readonly List<ManifestError> _errors = [];

    [Theory]
    [InlineData("name", "name")]
    [InlineData("a/b", "a~1b")]
    [InlineData("a~b", "a~0b")]
    [InlineData("~1", "~01")]
    [InlineData("/~", "~1~0")]
    [InlineData("~/", "~0~1")]
    [InlineData("", "")]
    public void Escape_TildeAndSlash_FollowRfc6901(string field, string expected)
    {
        ManifestReader.Escape(field).ShouldBe(expected);
    }

    [Fact]
    public void PathOf_FieldOfNestedObject_AppendsTheEscapedField()
    {
        var reader = new ManifestReader(new JsonObject(), "/spec/0", _errors);

        reader.PathOf("roles").ShouldBe("/spec/0/roles");
        reader.PathOf("a/b").ShouldBe("/spec/0/a~1b");
    }

    [Fact]
    public void Error_NullField_IsAtTheObjectItself()
    {
        var root = new ManifestReader(new JsonObject(), string.Empty, _errors);
        var nested = new ManifestReader(new JsonObject(), "/spec", _errors);

        root.Error(null, "whole");
        nested.Error(null, "nested");
        nested.ItemError("list", 3, "item");

        _errors.ShouldBe([new ManifestError("", "whole"), new ManifestError("/spec", "nested"), new ManifestError("/spec/list/3", "item")]);
    }

    [Fact]
    public void ReadString_Present_ReturnsItWithoutErrors()
    {
        var reader = Reader("""{"s":"value","empty":""}""");

        reader.ReadString("s").ShouldBe("value");
        reader.ReadString("empty").ShouldBe(string.Empty);
        _errors.ShouldBeEmpty();
    }

    [Fact]
    public void ReadString_MissingOptional_IsNullWithoutError()
    {
        var reader = Reader("""{"n":null}""");

        reader.ReadString("absent").ShouldBeNull();
        reader.ReadString("n").ShouldBeNull();
        _errors.ShouldBeEmpty();
    }

    [Fact]
    public void ReadString_RequiredEmpty_IsAnError()
    {
        var reader = Reader("""{"s":""}""");

        reader.ReadString("s", required: true).ShouldBeNull();

        _errors.ShouldBe([new ManifestError("/s", "must not be empty")]);
    }

    [Fact]
    public void ReadString_MaxLength_IsInclusive()
    {
        var reader = Reader("""{"ok":"abc","long":"abcd"}""");

        reader.ReadString("ok", maxLength: 3).ShouldBe("abc");
        reader.ReadString("long", maxLength: 3).ShouldBeNull();

        _errors.ShouldHaveSingleItem().Path.ShouldBe("/long");
    }

    [Theory]
    [InlineData("1", "a number")]
    [InlineData("1.5", "a number")]
    [InlineData("true", "a boolean")]
    [InlineData("false", "a boolean")]
    [InlineData("{}", "an object")]
    [InlineData("[]", "an array")]
    [InlineData("[\"x\"]", "an array")]
    public void ReadString_WrongType_DescribesWhatWasFound(string json, string description)
    {
        var reader = Reader($$"""{"s":{{json}}}""");

        reader.ReadString("s").ShouldBeNull();

        _errors.ShouldBe([new ManifestError("/s", $"must be a string, not {description}")]);
    }

    [Fact]
    public void ReadStringArray_Strings_ReturnsThemInOrder()
    {
        var reader = Reader("""{"a":["z","a","z"],"e":[]}""");

        reader.ReadStringArray("a").ShouldBe(["z", "a", "z"]);
        reader.ReadStringArray("e").ShouldBeEmpty();
        _errors.ShouldBeEmpty();
    }

    [Fact]
    public void ReadStringArray_SeveralBadItems_ReportsEachAtItsIndex()
    {
        var reader = Reader("""{"a":["ok",1,"ok",null,{}]}""");

        reader.ReadStringArray("a").ShouldBeNull();

        _errors.Select(e => e.Path).ShouldBe(["/a/1", "/a/3", "/a/4"]);
    }

    [Fact]
    public void ReadStringArray_RequiredMissing_IsRequired()
    {
        var reader = Reader("{}");

        reader.ReadStringArray("a", required: true).ShouldBeNull();
        reader.ReadStringArray("b").ShouldBeNull();

        _errors.ShouldBe([new ManifestError("/a", "is required")]);
    }

    [Fact]
    public void RejectUnknownFields_ReportsOnlyFieldsNeitherReadNorIgnored()
    {
        var reader = Reader("""{"kind":"X","read":"r","absentRead":null,"extra":1,"a/b":2}""");
        reader.Ignore("kind");
        reader.ReadString("read");
        reader.ReadString("absentRead");
        reader.ReadString("neverThere");

        reader.RejectUnknownFields();

        _errors.ShouldBe([new ManifestError("/extra", "unknown field"), new ManifestError("/a~1b", "unknown field")]);
    }

    [Fact]
    public void RejectUnknownFields_NestedReader_UsesItsPath()
    {
        var reader = new ManifestReader(JsonNode.Parse("""{"x":1}""")!.AsObject(), "/spec", _errors);

        reader.RejectUnknownFields();

        _errors.ShouldHaveSingleItem().Path.ShouldBe("/spec/x");
    }

    [Fact]
    public void ReadName_FieldOtherThanName_ReportsAtThatField()
    {
        var reader = Reader("""{"owner":"Bad Owner"}""");

        reader.ReadName("owner").ShouldBeNull();

        _errors.ShouldHaveSingleItem().Path.ShouldBe("/owner");
    }

    [Fact]
    public void Describe_EveryJsonType_HasAName()
    {
        ManifestReader.Describe(null).ShouldBe("null");
        ManifestReader.Describe(new JsonObject()).ShouldBe("an object");
        ManifestReader.Describe(new JsonArray()).ShouldBe("an array");
        ManifestReader.Describe(JsonValue.Create("s")).ShouldBe("a string");
        ManifestReader.Describe(JsonValue.Create(1)).ShouldBe("a number");
        ManifestReader.Describe(JsonValue.Create(true)).ShouldBe("a boolean");
        ManifestReader.Describe(JsonNode.Parse("3.25")).ShouldBe("a number");
    }

    [Fact]
    public void ManifestError_ToString_PrefixesThePath()
    {
        new ManifestError("/roles/1", "bad").ToString().ShouldBe("/roles/1: bad");
        new ManifestError("", "bad").ToString().ShouldBe("bad");
    }

    [Fact]
    public void Constructor_NullArguments_Throw()
    {
        Should.Throw<ArgumentNullException>(() => new ManifestReader(null!, "", _errors));
        Should.Throw<ArgumentNullException>(() => new ManifestReader(new JsonObject(), null!, _errors));
        Should.Throw<ArgumentNullException>(() => new ManifestReader(new JsonObject(), "", null!));
        Should.Throw<ArgumentNullException>(() => ManifestReader.Escape(null!));
    }

    private ManifestReader Reader(string json) => new(JsonNode.Parse(json)!.AsObject(), string.Empty, _errors);
}
