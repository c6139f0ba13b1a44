using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Bulwark.Problems;

namespace Bulwark.Ingest;

/// <summary>Builds handshake answers: a challenge echoed as text or JSON, or a refusal as problem+json.</summary>
internal static class HandshakeAnswers
{
    /// <summary>The media type of a text answer.</summary>
    public const string TextPlain = "text/plain; charset=utf-8";

    /// <summary>The media type of a JSON answer.</summary>
    public const string Json = "application/json";

    /// <summary>The media type of a refusal.</summary>
    public const string ProblemJson = "application/problem+json";

    /// <summary>The longest challenge a handshake signs.</summary>
    private const int MaxSignableChallengeLength = 256;

    /// <summary>
    /// Escapes only what JSON requires (quotes, backslashes, controls); the answers go to machines, never into HTML, and
    /// X and LinkedIn challenges contain <c>+</c> and <c>/</c> that the default encoder would turn into <c>\u002B</c>.
    /// </summary>
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The characters a challenge that the answer signs may contain (X <c>crc_token</c>, LinkedIn <c>challengeCode</c>).
    /// Signing arbitrary text would make the handshake a signing oracle for event bodies (both sign events with the same
    /// key and construction); no JSON object or array, the only bodies a normalizer reads, can be written in these
    /// characters. Real challenges are UUIDs or base64 text, which fit.
    /// </summary>
    private static readonly SearchValues<char> SignableChallengeCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=:");

    /// <summary><see cref="SignableChallengeCharacters"/> as the bytes of a body.</summary>
    private static readonly SearchValues<byte> SignableChallengeBytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=:"u8);

    /// <summary>A 200 text answer.</summary>
    /// <param name="body">The body.</param>
    /// <returns>The answer.</returns>
    public static HandshakeAnswer Text(string body) => new(200, TextPlain, body);

    /// <summary>A 200 JSON answer with one object of string properties, in order.</summary>
    /// <param name="properties">The properties.</param>
    /// <returns>The answer.</returns>
    public static HandshakeAnswer JsonObject(params ReadOnlySpan<(string Name, string Value)> properties)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in properties)
            {
                writer.WriteString(name, value);
            }

            writer.WriteEndObject();
        }

        return new(200, Json, Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length));
    }

    /// <summary>
    /// A 403 refusal as problem+json (<see cref="ProblemKind.Forbidden"/>). It says no more than that the handshake was
    /// refused: which check failed is for the operator's logs, not for the caller.
    /// </summary>
    /// <returns>The answer.</returns>
    public static HandshakeAnswer Refused()
    {
        var kind = ProblemKind.Forbidden;
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("type", kind.Type);
            writer.WriteString("title", kind.Title);
            writer.WriteNumber("status", kind.Status);
            writer.WriteString("detail", "The webhook handshake was refused.");
            writer.WriteEndObject();
        }

        return new(kind.Status, ProblemJson, Encoding.UTF8.GetString(stream.GetBuffer(), 0, (int)stream.Length));
    }

    /// <summary>
    /// Whether a delivery body is text that a handshake answer could have signed: at most 256 bytes of
    /// <see cref="SignableChallengeCharacters"/>, or empty (LinkedIn's challenge <c>hmacsha256=</c> signs the empty
    /// body by its second construction). Such a body is refused as a delivery whatever its signature, so that a caller
    /// who holds only handshake answers (anyone can ask for them) cannot get a body stored: the raw snapshots are kept
    /// for ever. No delivery of X or LinkedIn is such text; theirs are JSON objects.
    /// </summary>
    /// <param name="body">The raw body.</param>
    /// <returns>Whether it is one.</returns>
    public static bool IsSignableBody(ReadOnlySpan<byte> body) =>
        body.Length <= MaxSignableChallengeLength && !body.ContainsAnyExcept(SignableChallengeBytes);

    /// <summary>The refusal of a body that <see cref="IsSignableBody"/> recognizes, as a bad signature.</summary>
    /// <returns>The result.</returns>
    public static VerificationResult SignableBodyRefused() => new(
        VerificationOutcome.BadSignature,
        "The body is text of the kind this scheme's handshake answers sign, so its signature proves nothing; deliveries are JSON.");

    /// <summary>Whether a challenge may be signed: 1 to 256 characters of <see cref="SignableChallengeCharacters"/>.</summary>
    /// <param name="challenge">The challenge.</param>
    /// <returns>Whether it may.</returns>
    public static bool IsSignableChallenge(string? challenge) =>
        !string.IsNullOrEmpty(challenge)
        && challenge.Length <= MaxSignableChallengeLength
        && !challenge.AsSpan().ContainsAnyExcept(SignableChallengeCharacters);
}
