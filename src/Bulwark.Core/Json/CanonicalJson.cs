using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Json;

/// <summary>
/// Writes JSON in one canonical form: object members sorted by ordinal key, no insignificant white space,
/// numbers and strings as <see cref="Utf8JsonWriter"/> writes them. Two documents with the same content give the
/// same bytes, which is what audit hashes and manifest diffs compare.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Serializes <paramref name="node"/> canonically; <see langword="null"/> gives <see langword="null"/>.</summary>
    /// <param name="node">The JSON value.</param>
    /// <returns>The canonical text, or <see langword="null"/> for a missing value.</returns>
    public static string? Serialize(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, node);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Whether two JSON values are equal in canonical form.</summary>
    /// <param name="left">The first value.</param>
    /// <param name="right">The second value.</param>
    /// <returns><see langword="true"/> when both serialize to the same canonical text.</returns>
    public static bool AreEqual(JsonNode? left, JsonNode? right) =>
        string.Equals(Serialize(left), Serialize(right), StringComparison.Ordinal);

    private static void Write(Utf8JsonWriter writer, JsonNode? node)
    {
        switch (node)
        {
            case null:
                writer.WriteNullValue();
                break;
            case JsonObject obj:
                writer.WriteStartObject();
                foreach (var (key, value) in obj.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(key);
                    Write(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonArray array:
                writer.WriteStartArray();
                foreach (var item in array)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                node.WriteTo(writer);
                break;
        }
    }
}
