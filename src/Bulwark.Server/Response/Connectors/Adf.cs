using System.Text.Json.Nodes;

namespace Bulwark.Server.Response.Connectors;

/// <summary>Atlassian Document Format, the little of it tickets need: paragraphs, bullet lists, links.</summary>
internal static class Adf
{
    public static JsonObject Doc(IEnumerable<JsonObject> content) => new()
    {
        ["type"] = "doc",
        ["version"] = 1,
        ["content"] = new JsonArray([.. content]),
    };

    /// <summary>A paragraph of text runs; empty runs are dropped (ADF refuses empty text nodes).</summary>
    public static JsonObject Paragraph(params JsonObject?[] runs) => new()
    {
        ["type"] = "paragraph",
        ["content"] = new JsonArray([.. runs.OfType<JsonObject>()]),
    };

    public static JsonObject? Text(string text) => text.Length == 0 ? null : new JsonObject { ["type"] = "text", ["text"] = text };

    public static JsonObject? Strong(string text) => text.Length == 0 ? null : new JsonObject
    {
        ["type"] = "text",
        ["text"] = text,
        ["marks"] = new JsonArray(new JsonObject { ["type"] = "strong" }),
    };

    public static JsonObject? Link(string text, string href) => text.Length == 0 ? null : new JsonObject
    {
        ["type"] = "text",
        ["text"] = text,
        ["marks"] = new JsonArray(new JsonObject { ["type"] = "link", ["attrs"] = new JsonObject { ["href"] = href } }),
    };

    public static JsonObject BulletList(IEnumerable<JsonObject> paragraphs) => new()
    {
        ["type"] = "bulletList",
        ["content"] = new JsonArray([.. paragraphs.Select(p => (JsonNode)new JsonObject
        {
            ["type"] = "listItem",
            ["content"] = new JsonArray(p),
        })]),
    };
}
