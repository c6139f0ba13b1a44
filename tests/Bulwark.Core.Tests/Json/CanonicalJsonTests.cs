using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Json;

namespace Bulwark.Core.Tests.Json;

public sealed class CanonicalJsonTests
{
    private static readonly string[] KeyPool = ["a", "b", "B", "Z", "z", "aa", "a1", "_", "-", "é", "日本", "id", "ID", "name", "x y", "<k>"];

    [Fact]
    public void Serialize_NestedObjects_SortsKeysOrdinallyAtEveryDepth()
    {
        var node = JsonNode.Parse("""{"b":{"z":1,"a":{"y":2,"x":3}},"a":[{"d":1,"c":2}],"_":1,"B":0}""");

        CanonicalJson.Serialize(node).ShouldBe("""{"B":0,"_":1,"a":[{"c":2,"d":1}],"b":{"a":{"x":3,"y":2},"z":1}}""");
    }

    [Fact]
    public void Serialize_KeysThatCultureOrderWouldInterleave_AreInOrdinalOrder()
    {
        var node = JsonNode.Parse("""{"é":1,"z":2,"aa":3,"Z":4,"a":5,"B":6}""");

        // UTF-16 code units: B (0x42) < Z (0x5A) < a < aa < z (0x7A) < é (0xE9).
        CanonicalJson.Serialize(node).ShouldBe("""{"B":6,"Z":4,"a":5,"aa":3,"z":2,"é":1}""");
    }

    [Fact]
    public void Serialize_IndentedInput_HasNoWhitespace()
    {
        var node = JsonNode.Parse("""
            {
              "b" : [ 1 , 2 ,
                      { "d" : null , "c" : true } ],
              "a" : "keeps  its   spaces"
            }
            """);

        CanonicalJson.Serialize(node).ShouldBe("""{"a":"keeps  its   spaces","b":[1,2,{"c":true,"d":null}]}""");
    }

    [Fact]
    public void Serialize_Arrays_KeepTheirOrder()
    {
        var node = JsonNode.Parse("""[3,1,2,"b","a",[2,1],{"b":1,"a":2},null,false]""");

        CanonicalJson.Serialize(node).ShouldBe("""[3,1,2,"b","a",[2,1],{"a":2,"b":1},null,false]""");
    }

    [Fact]
    public void Serialize_Null_IsNull()
    {
        CanonicalJson.Serialize(null).ShouldBeNull();
    }

    [Fact]
    public void Serialize_ObjectBuiltInCode_MatchesTheSameContentParsed()
    {
        var built = new JsonObject
        {
            ["name"] = "alice",
            ["count"] = 3,
            ["on"] = true,
            ["gone"] = null,
            ["tags"] = new JsonArray("b", "a"),
        };
        var parsed = JsonNode.Parse("""{"tags":["b","a"],"on":true,"name":"alice","gone":null,"count":3}""");

        CanonicalJson.Serialize(built).ShouldBe("""{"count":3,"gone":null,"name":"alice","on":true,"tags":["b","a"]}""");
        CanonicalJson.AreEqual(built, parsed).ShouldBeTrue();
    }

    [Fact]
    public void Serialize_NonAsciiAndHtmlCharacters_AreWrittenUnescaped()
    {
        const string text = "é ü Ω ☃ 日本語 <script> & 'quoted' + `tick`";
        var node = new JsonObject { ["s"] = text, [text] = 1 };

        var canonical = CanonicalJson.Serialize(node);

        canonical.ShouldBe("{\"s\":\"" + text + "\",\"" + text + "\":1}");
    }

    [Fact]
    public void Serialize_EscapedInput_IsWrittenInTheSameFormAsUnescapedInput()
    {
        var escaped = JsonNode.Parse("""{"\u00e9":"\u00e9\u003cb\u003e \u0026 \u0027x\u0027 \/"}""");
        var plain = JsonNode.Parse("""{"é":"é<b> & 'x' /"}""");

        CanonicalJson.Serialize(escaped).ShouldBe("""{"é":"é<b> & 'x' /"}""");
        CanonicalJson.AreEqual(escaped, plain).ShouldBeTrue();
    }

    [Fact]
    public void Serialize_QuotesBackslashesAndControlCharacters_AreEscaped()
    {
        var value = "say \"hi\" \\ path" + "\n\t\r\u0001\u001f\u0000" + "end";
        var node = new JsonObject { ["s"] = value, ["k\"\n"] = 1 };

        var canonical = CanonicalJson.Serialize(node)!;

        canonical.ShouldContain("""say \"hi\" \\ path""", Case.Sensitive);
        canonical.ShouldContain("""k\"\n""", Case.Sensitive);
        canonical.ShouldAllBe(c => c >= 0x20);
        var back = JsonNode.Parse(canonical)!.AsObject();
        back["s"]!.GetValue<string>().ShouldBe(value);
        back.ContainsKey("k\"\n").ShouldBeTrue();
    }

    [Theory]
    [InlineData("1.50")]
    [InlineData("1.0")]
    [InlineData("1e3")]
    [InlineData("1E+03")]
    [InlineData("-0")]
    [InlineData("0.1000000000000000055511151231257827")]
    [InlineData("123456789012345678901234567890")]
    public void Serialize_ParsedNumbers_KeepTheirRawText(string number)
    {
        var node = JsonNode.Parse($$"""{"n":{{number}},"a":[{{number}}]}""");

        CanonicalJson.Serialize(node).ShouldBe($$"""{"a":[{{number}}],"n":{{number}}}""");
    }

    [Fact]
    public void AreEqual_SameContentInDifferentKeyOrder_IsTrue()
    {
        var left = JsonNode.Parse("""{"a":1,"b":{"c":[1,{"e":2,"d":3}],"f":"g"}}""");
        var right = JsonNode.Parse("""{"b":{"f":"g","c":[1,{"d":3,"e":2}]},"a":1}""");

        CanonicalJson.AreEqual(left, right).ShouldBeTrue();
    }

    [Fact]
    public void AreEqual_DifferentContent_IsFalse()
    {
        var node = JsonNode.Parse("""{"a":1,"b":[1,2]}""");

        CanonicalJson.AreEqual(node, JsonNode.Parse("""{"a":2,"b":[1,2]}""")).ShouldBeFalse();
        CanonicalJson.AreEqual(node, JsonNode.Parse("""{"a":1,"b":[2,1]}""")).ShouldBeFalse();
        CanonicalJson.AreEqual(node, JsonNode.Parse("""{"a":1,"b":[1,2],"c":null}""")).ShouldBeFalse();
        CanonicalJson.AreEqual(node, JsonNode.Parse("""{"A":1,"b":[1,2]}""")).ShouldBeFalse();
        CanonicalJson.AreEqual(node, JsonNode.Parse("""{"a":"1","b":[1,2]}""")).ShouldBeFalse();
    }

    [Fact]
    public void AreEqual_NullAndNull_IsTrue_NullAndValue_IsFalse()
    {
        CanonicalJson.AreEqual(null, null).ShouldBeTrue();
        CanonicalJson.AreEqual(null, new JsonObject()).ShouldBeFalse();
        CanonicalJson.AreEqual(new JsonArray(), null).ShouldBeFalse();
    }

    [Fact]
    public void AreEqual_SameNumberWrittenDifferently_IsFalse()
    {
        // Numbers are compared by their text, not their value: 1.5 and 1.50 are different canonical documents.
        CanonicalJson.AreEqual(JsonNode.Parse("""{"n":1.5}"""), JsonNode.Parse("""{"n":1.50}""")).ShouldBeFalse();
    }

    [Fact]
    public void Serialize_RandomDocuments_AreSortedCompactAndEquivalentToTheInput()
    {
        var random = new Random(12345);
        for (var round = 0; round < 500; round++)
        {
            var node = RandomNode(random, depth: 0);
            var shuffled = Shuffle(node, random);

            var canonical = CanonicalJson.Serialize(node)!;

            CanonicalJson.Serialize(shuffled).ShouldBe(canonical, $"round {round}");
            CanonicalJson.AreEqual(node, shuffled).ShouldBeTrue($"round {round}");
            HasWhitespaceOutsideStrings(canonical).ShouldBeFalse(canonical);
            JsonNode.DeepEquals(JsonNode.Parse(canonical), node).ShouldBeTrue(canonical);
            using var document = JsonDocument.Parse(canonical);
            AssertKeysSorted(document.RootElement, canonical);
            CanonicalJson.Serialize(JsonNode.Parse(canonical)).ShouldBe(canonical, "canonical form is a fixed point");
        }
    }

    private static JsonNode? RandomNode(Random random, int depth)
    {
        var choice = depth == 0 ? random.Next(5, 7) : depth >= 4 ? random.Next(5) : random.Next(7);
        switch (choice)
        {
            case 0:
                return null;
            case 1:
                return JsonValue.Create(random.Next(2) == 0);
            case 2:
                return JsonNode.Parse(random.Next(3) switch
                {
                    0 => random.Next(-1000, 1000).ToString(CultureInfo.InvariantCulture),
                    1 => (random.Next(0, 100000) / 100.0).ToString("0.00", CultureInfo.InvariantCulture),
                    _ => random.Next(1, 9).ToString(CultureInfo.InvariantCulture) + "e" + random.Next(0, 20).ToString(CultureInfo.InvariantCulture),
                });
            case 3:
            case 4:
                return JsonValue.Create(KeyPool[random.Next(KeyPool.Length)] + random.Next(100).ToString(CultureInfo.InvariantCulture) + " \"\\\n");
            case 5:
                var array = new JsonArray();
                for (var i = random.Next(4); i > 0; i--)
                {
                    array.Add(RandomNode(random, depth + 1));
                }

                return array;
            default:
                var obj = new JsonObject();
                for (var i = random.Next(6); i > 0; i--)
                {
                    obj[KeyPool[random.Next(KeyPool.Length)]] = RandomNode(random, depth + 1);
                }

                return obj;
        }
    }

    /// <summary>A deep copy whose objects list their members in a random order.</summary>
    private static JsonNode? Shuffle(JsonNode? node, Random random)
    {
        switch (node)
        {
            case JsonObject obj:
                var members = obj.Select(p => (p.Key, Value: Shuffle(p.Value, random))).ToList();
                var copy = new JsonObject();
                while (members.Count > 0)
                {
                    var i = random.Next(members.Count);
                    copy[members[i].Key] = members[i].Value;
                    members.RemoveAt(i);
                }

                return copy;
            case JsonArray array:
                return new JsonArray([.. array.Select(item => Shuffle(item, random))]);
            default:
                return node?.DeepClone();
        }
    }

    private static void AssertKeysSorted(JsonElement element, string context)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var names = element.EnumerateObject().Select(p => p.Name).ToList();
                names.ShouldBe([.. names.Order(StringComparer.Ordinal)], context);
                foreach (var property in element.EnumerateObject())
                {
                    AssertKeysSorted(property.Value, context);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    AssertKeysSorted(item, context);
                }

                break;
        }
    }

    private static bool HasWhitespaceOutsideStrings(string json)
    {
        var inString = false;
        var escaped = false;
        foreach (var c in json)
        {
            if (inString)
            {
                if (escaped)
                {
                    escaped = false;
                }
                else if (c == '\\')
                {
                    escaped = true;
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                return true;
            }
        }

        return false;
    }
}
