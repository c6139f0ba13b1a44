using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Manifests;
using Bulwark.Problems;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Bulwark.Server.Http;

/// <summary>Reads a JSON object body for a handler, answering malformed input with a 400 problem.</summary>
internal static class RequestJson
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>Reads the body as one JSON object.</summary>
    /// <returns>The object, or a problem to answer with.</returns>
    public static async Task<(JsonObject? Body, ProblemHttpResult? Problem)> ReadObjectAsync(HttpContext context, bool optional = false)
    {
        if (!RequestBodyLimits.HasBody(context.Request))
        {
            return optional
                ? (new JsonObject(), null)
                : (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, "A JSON object body is required."));
        }

        JsonNode? node;
        try
        {
            using var document = await JsonDocument.ParseAsync(context.Request.Body, DocumentOptions, context.RequestAborted).ConfigureAwait(false);
            node = document.RootElement.ValueKind == JsonValueKind.Object ? JsonObject.Create(document.RootElement.Clone()) : null;
            if (node is null)
            {
                return (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, $"The body must be a JSON object, not {document.RootElement.ValueKind.ToString().ToLowerInvariant()}."));
            }

            // JsonDocument checks structure but decodes strings lazily: decode every one now, so that invalid UTF-8
            // is refused here and never reaches a handler.
            DecodeAllStrings(document.RootElement);
        }
        catch (JsonException error)
        {
            return (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, "The body is not valid JSON: " + error.Message));
        }
        catch (InvalidOperationException error)
        {
            return (null, ProblemResults.Result(context, ProblemKind.MalformedRequest, "The body is not valid UTF-8 JSON: " + error.Message));
        }

        return (node.AsObject(), null);
    }

    private static void DecodeAllStrings(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                _ = element.GetString();
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    DecodeAllStrings(property.Value);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    DecodeAllStrings(item);
                }

                break;
        }
    }

    /// <summary>
    /// Reads the JSON object body with <paramref name="read"/>, which records every problem on the reader and returns
    /// what to do when there is none; answers 400 for a malformed body and 422 with every problem otherwise.
    /// </summary>
    public static async Task<IResult> WithBodyAsync(HttpContext context, Func<ManifestReader, Func<Task<IResult>>> read, bool optional = false)
    {
        var (body, problem) = await ReadObjectAsync(context, optional).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        var errors = new List<ManifestError>();
        var reader = new ManifestReader(body!, string.Empty, errors);
        var handle = read(reader);
        reader.RejectUnknownFields();
        return errors.Count > 0 ? ProblemResults.Validation(context, errors) : await handle().ConfigureAwait(false);
    }
}
