using System.Text.Json;

namespace Bulwark.Ingest;

/// <summary>
/// <c>slack</c> (Events API, slash commands, interactivity): headers <c>X-Slack-Request-Timestamp</c> (Unix seconds) and
/// <c>X-Slack-Signature: v0=&lt;hex HMAC-SHA256(signing secret UTF-8, "v0:{timestamp}:{raw body}")&gt;</c>. The
/// timestamp must be within the tolerance either way, checked only once the signature matched. No delivery header:
/// events dedupe on <c>event_id</c> in the body, so <see cref="VerificationResult.DeliveryId"/> is
/// <see langword="null"/>.
/// </summary>
/// <remarks>
/// Handshake: a POST whose JSON body is <c>{"type":"url_verification","challenge":"…"}</c> is answered 200 with the
/// challenge as plain text (403 when the challenge is missing, empty or not a string). Slack signs this POST like any
/// other, and <see cref="Handshake"/> does not verify it: the server calls it only after <see cref="Verify"/> succeeded.
/// </remarks>
public sealed class SlackScheme : IWebhookScheme
{
    private const string SignatureHeader = "X-Slack-Signature";
    private const string TimestampHeader = "X-Slack-Request-Timestamp";
    private const string Prefix = "v0=";

    private SlackScheme()
    {
    }

    /// <summary>The one instance.</summary>
    public static SlackScheme Instance { get; } = new();

    /// <inheritdoc />
    /// <value><c>slack</c>.</value>
    public string Name => "slack";

    /// <inheritdoc />
    /// <value><see langword="true"/>.</value>
    public bool SignsTimestamp => true;

    /// <summary>Checks a signing secret: any non-empty text without surrounding whitespace or control characters.</summary>
    /// <param name="secret">The secret.</param>
    /// <returns>An error, or <see langword="null"/> when the secret is usable.</returns>
    public static string? ValidateSecret(string secret) => SchemeSecretRules.Text(secret);

    /// <inheritdoc />
    public VerificationResult Verify(WebhookRequest request, SchemeSecrets secrets, DateTimeOffset now, TimeSpan tolerance)
    {
        SchemeChecks.VerifyArguments(request, secrets, tolerance);
        var signature = request.Header(SignatureHeader);
        if (signature is null)
        {
            return SchemeChecks.Missing(SignatureHeader);
        }

        var timestamp = request.Header(TimestampHeader);
        if (timestamp is null)
        {
            return SchemeChecks.Malformed($"The {TimestampHeader} header is missing.");
        }

        if (!SchemeChecks.TryParseUnixSeconds(timestamp, out var seconds))
        {
            return SchemeChecks.Malformed($"The {TimestampHeader} header is not integer Unix seconds.");
        }

        if (!signature.StartsWith(Prefix, StringComparison.Ordinal) || signature.Length == Prefix.Length)
        {
            return SchemeChecks.Malformed($"The {SignatureHeader} header is not {Prefix} followed by a signature.");
        }

        IReadOnlyList<byte[]> candidates = SchemeCrypto.DecodeHexMac(signature.AsSpan(Prefix.Length)) is { } mac ? [mac] : [];
        var content = SchemeCrypto.RentPrefixed($"v0:{timestamp}:", request.Body.Span, out var length);
        try
        {
            var index = SchemeCrypto.FindSecret(secrets.Secrets, SchemeCrypto.Utf8Key, content.AsSpan(0, length), candidates);
            return index < 0
                ? SchemeChecks.Bad($"The {SignatureHeader} signature", secrets)
                : SchemeChecks.Window(seconds, now, tolerance, index, deliveryId: null);
        }
        finally
        {
            SchemeCrypto.Return(content);
        }
    }

    /// <inheritdoc />
    public HandshakeAnswer? Handshake(WebhookRequest request, SchemeSecrets secrets)
    {
        SchemeChecks.HandshakeArguments(request, secrets);
        if (!SchemeChecks.IsPost(request) || request.Body.IsEmpty)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(request.Body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("type", out var type)
                || type.ValueKind != JsonValueKind.String
                || !type.ValueEquals("url_verification"))
            {
                return null;
            }

            return root.TryGetProperty("challenge", out var challenge)
                && challenge.ValueKind == JsonValueKind.String
                && challenge.GetString() is { Length: > 0 } value
                ? HandshakeAnswers.Text(value)
                : HandshakeAnswers.Refused();
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            // A challenge that is not valid Unicode (a lone surrogate escape): no answer can echo it.
            return HandshakeAnswers.Refused();
        }
    }
}
