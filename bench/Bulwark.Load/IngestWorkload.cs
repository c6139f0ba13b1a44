using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

/// <summary>
/// The events the ingest measurements send: lines of a scenario trace (schema v1 events, one a line; by default the
/// repository's <c>tests/data/scenarios/dev-b/events.jsonl.gz</c>, 40,938 events of four sources), each sent with an id
/// of its own so that nothing is deduped away.
/// </summary>
internal static class IngestWorkload
{
    public const string DefaultTrace = "tests/data/scenarios/dev-b/events.jsonl.gz";

    /// <summary>The trace's lines: <paramref name="path"/>, or the default trace found from here or from this tool upwards.</summary>
    public static (string Path, string[] Lines) LoadTrace(string? path)
    {
        path ??= new[] { Environment.CurrentDirectory, AppContext.BaseDirectory }
            .SelectMany(Ancestors)
            .Select(d => System.IO.Path.Combine(d, DefaultTrace))
            .FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"{DefaultTrace} was not found above the current directory: run from the repository, or pass --trace FILE");
        using var file = File.OpenRead(path);
        using var reader = new StreamReader(path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }

        return (path, [.. lines]);

        static IEnumerable<string> Ancestors(string directory)
        {
            for (var d = new DirectoryInfo(directory); d is not null; d = d.Parent)
            {
                yield return d.FullName;
            }
        }
    }

    /// <summary>A line split around the value of its <c>id</c> (the first member after <c>schema_version</c>).</summary>
    public static (byte[] Before, byte[] After) SplitAtId(string line)
    {
        const string Member = "\"id\":\"";
        var start = line.IndexOf(Member, StringComparison.Ordinal) + Member.Length;
        var end = line.IndexOf('"', start);
        if (start < Member.Length || end < 0)
        {
            throw new FormatException("a trace line without an id: " + line);
        }

        return (Encoding.UTF8.GetBytes(line[..start]), Encoding.UTF8.GetBytes(line[end..]));
    }
}

/// <summary>
/// Standard Webhooks deliveries of one source: each a trace event rewritten to the source, with a unique event id, the
/// time it is sent as its <c>timestamp</c> (a platform notifies of what just happened; the trace's own times, cycled
/// over and over, would land all over the log's time index) and <c>details.note</c> padding it to about
/// <c>bodyBytes</c>, sent with a unique <c>webhook-id</c> and signed when it is made (HMAC-SHA256 over
/// <c>id.timestamp.body</c>, keyed with the base64 after <c>whsec_</c>; header <c>webhook-signature: v1,&lt;base64&gt;</c>).
/// </summary>
internal sealed class WebhookDeliveries
{
    private const string IdPlaceholder = "@@ID@@";

    // As long as the RFC 3339 time written over it when a delivery is made.
    private const string TimePlaceholder = "0000-00-00T00:00:00.000Z";
    private const string Filler = "Password reset requested from the account settings page after a sign-in from a new device; ";
    private const string IdCharacters = "0123456789abcdefghijklmnopqrstuvwxyz";
    private readonly byte[] _key;
    private readonly (byte[] Before, byte[] After)[] _templates;
    private readonly bool _randomIds;
    private long _next;

    /// <param name="randomIds">Random ids (10 characters after the prefix) instead of the delivery's number.</param>
    public WebhookDeliveries(
        string secret, string source, IEnumerable<string> trace, int bodyBytes, bool randomIds = false)
    {
        _randomIds = randomIds;
        _key = Convert.FromBase64String(secret[Bulwark.Ingest.StandardWebhooksScheme.SecretPrefix.Length..]);
        _templates = [.. trace.Select(line => Template(line, source, bodyBytes))];
        Example = Body(0);
    }

    /// <summary>The first delivery's body (its id is <c>evt_wh_0000000000</c>; no delivery sent has it).</summary>
    public byte[] Example { get; }

    public double MeanBodyBytes => _templates.Average(t => t.Before.Length + t.After.Length + Id(0).Length);

    /// <summary>A fresh secret: <c>whsec_</c> and 32 random bytes in base64.</summary>
    public static string NewSecret() => Bulwark.Ingest.StandardWebhooksScheme.SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    /// <summary>The next delivery to <paramref name="path"/>, signed now; <paramref name="tamper"/> flips a bit of the body after signing.</summary>
    public HttpRequestMessage Next(string path, bool tamper = false)
    {
        var n = Interlocked.Increment(ref _next);
        var body = Body(n);
        var deliveryId = "msg_" + (_randomIds ? RandomId() : n.ToString("D10", CultureInfo.InvariantCulture));
        var timestamp = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signed = Encoding.UTF8.GetBytes($"{deliveryId}.{timestamp}.");
        var content = new byte[signed.Length + body.Length];
        signed.CopyTo(content, 0);
        body.CopyTo(content, signed.Length);
        var signature = "v1," + Convert.ToBase64String(HMACSHA256.HashData(_key, content));
        if (tamper)
        {
            body[^2] ^= 1;
        }

        var request = new HttpRequestMessage(HttpMethod.Post, path.TrimStart('/')) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("webhook-id", deliveryId);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        request.Headers.TryAddWithoutValidation("webhook-signature", signature);
        return request;
    }

    private static string Id(long n) => "evt_wh_" + n.ToString("D10", CultureInfo.InvariantCulture);

    private static string RandomId() => string.Create(10, 0, static (chars, _) =>
    {
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = IdCharacters[Random.Shared.Next(IdCharacters.Length)];
        }
    });

    private static (byte[] Before, byte[] After) Template(string line, string source, int bodyBytes)
    {
        var node = JsonNode.Parse(line)!.AsObject();
        node["id"] = IdPlaceholder;
        node["source"] = source;
        node["timestamp"] = TimePlaceholder;
        if (node["details"] is not JsonObject details)
        {
            details = [];
            node["details"] = details;
        }

        details["note"] = string.Empty;
        var length = Encoding.UTF8.GetByteCount(node.ToJsonString()) - IdPlaceholder.Length + Id(0).Length;
        var missing = Math.Max(0, bodyBytes - length);
        details["note"] = string.Concat(Enumerable.Repeat(Filler, (missing / Filler.Length) + 1))[..missing];
        var text = node.ToJsonString();
        var at = text.IndexOf(IdPlaceholder, StringComparison.Ordinal);
        return (Encoding.UTF8.GetBytes(text[..at]), Encoding.UTF8.GetBytes(text[(at + IdPlaceholder.Length)..]));
    }

    private byte[] Body(long n)
    {
        var (before, after) = _templates[n % _templates.Length];
        var id = Encoding.UTF8.GetBytes(n > 0 && _randomIds ? "evt_wh_" + RandomId() : Id(n));
        var body = new byte[before.Length + id.Length + after.Length];
        before.CopyTo(body, 0);
        id.CopyTo(body, before.Length);
        after.CopyTo(body, before.Length + id.Length);
        var at = body.AsSpan().IndexOf(TimePlaceholderBytes);
        Encoding.ASCII.GetBytes(TimeProvider.System.GetUtcNow().UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), body.AsSpan(at));
        return body;
    }

    private static ReadOnlySpan<byte> TimePlaceholderBytes => "0000-00-00T00:00:00.000Z"u8;
}

/// <summary>NDJSON pushes for <c>POST /v1/events</c>: the trace's events in order, cycling, each with a unique id.</summary>
internal sealed class EventBatches(IEnumerable<string> trace)
{
    private readonly (byte[] Before, byte[] After)[] _lines = [.. trace.Select(IngestWorkload.SplitAtId)];
    private long _next;

    public double MeanEventBytes => _lines.Average(l => l.Before.Length + l.After.Length + 15.0 + 1);

    public HttpRequestMessage Next(int size)
    {
        var first = Interlocked.Add(ref _next, size) - size;
        var buffer = new ArrayBufferWriter<byte>(size * 400);
        Span<byte> id = stackalloc byte[32];
        for (var n = first; n < first + size; n++)
        {
            var (before, after) = _lines[n % _lines.Length];
            buffer.Write(before);
            "evt_b"u8.CopyTo(id);
            n.TryFormat(id[5..], out var digits, "D10", CultureInfo.InvariantCulture);
            buffer.Write(id[..(5 + digits)]);
            buffer.Write(after);
            buffer.Write("\n"u8);
        }

        var request = new HttpRequestMessage(HttpMethod.Post, "v1/events") { Content = new ReadOnlyMemoryContent(buffer.WrittenMemory) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
        return request;
    }
}
