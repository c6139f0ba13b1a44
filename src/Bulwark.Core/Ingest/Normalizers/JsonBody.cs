using System.Text.Json;

namespace Bulwark.Ingest;

/// <summary>Parses delivery bodies: one JSON document, or a batch (a JSON array, one object, or JSON lines).</summary>
internal static class JsonBody
{
    /// <summary>The nesting limit for bodies (the <see cref="JsonDocument"/> default, stated so it cannot drift).</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// The most items a batch body may hold. Platforms batch tens to hundreds; a 16 MiB body of <c>[0,0,…]</c> or of
    /// <c>{}</c> lines holds millions, each of which would be kept (a parsed line is a document of its own) before the
    /// first could be refused.
    /// </summary>
    public const int MaxItems = 100_000;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth };

    private static readonly JsonReaderOptions ScanOptions = new() { MaxDepth = MaxDepth, AllowMultipleValues = true };

    /// <summary>Parses a body that holds one JSON document.</summary>
    public static JsonDocument? TryParse(ReadOnlyMemory<byte> body, out string failure)
    {
        body = TrimBom(body);
        if (IsBlank(body.Span))
        {
            failure = "the body is empty";
            return null;
        }

        try
        {
            failure = "";
            return JsonDocument.Parse(body, DocumentOptions);
        }
        catch (JsonException e)
        {
            failure = $"the body is not JSON: {e.Message}";
            return null;
        }
    }

    public static ReadOnlyMemory<byte> TrimBom(ReadOnlyMemory<byte> body) =>
        body.Span.StartsWith("\uFEFF"u8) ? body[3..] : body;

    public static bool IsBlank(ReadOnlySpan<byte> span)
    {
        foreach (var b in span)
        {
            if (!IsWhiteSpace(b))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsWhiteSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n';

    /// <summary>
    /// Reads a batch: a JSON array (its items), one JSON object (one item) or JSON lines (one object per line, blank
    /// lines skipped; a broken line is an issue for that item only). Items are numbered from 0 in body order.
    /// </summary>
    public static BatchBody ReadBatch(ReadOnlyMemory<byte> body)
    {
        var batch = new BatchBody();
        body = TrimBom(body);
        var span = body.Span;
        var first = 0;
        while (first < span.Length && IsWhiteSpace(span[first]))
        {
            first++;
        }

        if (first == span.Length)
        {
            batch.Failure = "the body is empty";
            return batch;
        }

        // An object followed by more values is JSON lines; so is a broken body of several lines, read line by line so
        // that one broken line costs one item. A body where no line reads is not JSON at all.
        if (span[first] == (byte)'{')
        {
            var several = HasSeveralValues(span, out var scanFailed);
            if (several || (scanFailed && CountLines(span) > 1))
            {
                ReadLines(body, batch);
                if (batch.Failure is null && batch.Items.TrueForAll(static item => item.Problem is not null))
                {
                    batch.Failure = $"the body is neither JSON nor JSON lines: {batch.Items[0].Problem}";
                    batch.Items.Clear();
                }

                return batch;
            }
        }

        var document = TryParse(body, out var failure);
        if (document is null)
        {
            batch.Failure = failure;
            return batch;
        }

        batch.Own(document);
        var root = document.RootElement;
        switch (root.ValueKind)
        {
            case JsonValueKind.Array:
                var count = root.GetArrayLength();
                if (count > MaxItems)
                {
                    batch.Failure = TooMany(count.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                }

                batch.Items.Capacity = count;
                var index = 0;
                foreach (var item in root.EnumerateArray())
                {
                    batch.Items.Add(new BatchItem(index++, item, null));
                }

                break;
            case JsonValueKind.Object:
                batch.Items.Add(new BatchItem(0, root, null));
                break;
            default:
                batch.Failure = $"the body must be a JSON object, an array of objects or JSON lines, not {EventText.Describe(root.ValueKind)}";
                break;
        }

        return batch;
    }

    /// <summary>Whether an object body is followed by more values (JSON lines), without building anything.</summary>
    private static bool HasSeveralValues(ReadOnlySpan<byte> span, out bool failed)
    {
        failed = false;
        try
        {
            var reader = new Utf8JsonReader(span, ScanOptions);
            return reader.Read() && reader.TrySkip() && reader.Read();
        }
        catch (JsonException)
        {
            failed = true;
            return false;
        }
    }

    private static int CountLines(ReadOnlySpan<byte> span)
    {
        var lines = 0;
        foreach (var range in span.Split((byte)'\n'))
        {
            if (!IsBlank(span[range]))
            {
                lines++;
            }
        }

        return lines;
    }

    private static string TooMany(string count) =>
        $"the body holds {count} items; a delivery takes at most {MaxItems.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} (send smaller batches)";

    private static void ReadLines(ReadOnlyMemory<byte> body, BatchBody batch)
    {
        var index = 0;
        foreach (var range in body.Span.Split((byte)'\n'))
        {
            var line = body[range];
            if (IsBlank(line.Span))
            {
                continue;
            }

            if (index == MaxItems)
            {
                batch.Dispose();
                batch.Items.Clear();
                batch.Failure = TooMany("more than " + MaxItems.ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
                return;
            }

            try
            {
                var document = JsonDocument.Parse(line, DocumentOptions);
                batch.Own(document);
                var root = document.RootElement;
                batch.Items.Add(root.ValueKind == JsonValueKind.Object
                    ? new BatchItem(index, root, null)
                    : new BatchItem(index, default, $"line {index + 1} is {EventText.Describe(root.ValueKind)}, not a JSON object"));
            }
            catch (JsonException e)
            {
                batch.Items.Add(new BatchItem(index, default, $"line {index + 1} is not JSON: {e.Message}"));
            }

            index++;
        }
    }
}

/// <summary>One item of a batch body: the JSON, or why that item could not be read.</summary>
internal readonly record struct BatchItem(int Index, JsonElement Element, string? Problem);

/// <summary>The items of a batch body and the documents that hold them (disposed with the batch).</summary>
internal sealed class BatchBody : IDisposable
{
    private readonly List<JsonDocument> _documents = [];

    public List<BatchItem> Items { get; } = [];

    public string? Failure { get; set; }

    public void Own(JsonDocument document) => _documents.Add(document);

    public void Dispose()
    {
        foreach (var document in _documents)
        {
            document.Dispose();
        }

        _documents.Clear();
    }
}
