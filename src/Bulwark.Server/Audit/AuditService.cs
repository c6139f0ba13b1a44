using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Audit;
using Bulwark.Server.Metrics;
using Bulwark.Storage;

namespace Bulwark.Server.Audit;

/// <summary>
/// Verifies the audit chain page by page and remembers the last result for <c>/metrics</c>
/// (<c>bulwark_audit_chain_intact</c>: 1 intact, 0 broken, -1 not verified yet). A broken chain never stops the
/// server: it is reported, and new entries keep chaining.
/// </summary>
internal sealed class AuditService
{
    private readonly IControlStore _store;
    private volatile AuditVerification? _last;

    public AuditService(IControlStore store, ServerInstruments instruments)
    {
        _store = store;
        instruments.Meter.CreateObservableGauge(
            "bulwark.audit.chain.intact",
            () => _last is null ? -1 : _last.Ok ? 1 : 0,
            unit: null,
            description: "Whether the last verification found the audit chain intact (1), broken (0), or has not run (-1)");
        instruments.Meter.CreateObservableGauge(
            "bulwark.audit.verified.entries",
            () => _last?.Entries ?? 0,
            unit: "{entry}",
            description: "Entries read by the last audit chain verification");
    }

    public AuditVerification? Last => _last;

    public async Task<AuditVerification> VerifyAsync(CancellationToken cancellationToken)
    {
        var verifier = new AuditVerifier();
        var recorded = await _store.ScanAuditAsync(verifier.Add, cancellationToken).ConfigureAwait(false);
        var result = verifier.Complete(recorded);
        _last = result;
        return result;
    }

    /// <summary>The wire form of an entry; <c>before</c>/<c>after</c> are JSON values whose canonical text is what was hashed.</summary>
    public static JsonObject Document(AuditEntry entry) => new()
    {
        ["seq"] = entry.Seq,
        ["time"] = AuditChain.FormatTime(entry.Time),
        ["actor"] = entry.Actor,
        ["action"] = entry.Action,
        ["target"] = entry.Target,
        ["before"] = ParseStored(entry.Before),
        ["after"] = ParseStored(entry.After),
        ["reason"] = entry.Reason,
        ["correlation_id"] = entry.CorrelationId,
        ["prev_hash"] = entry.PrevHash,
        ["hash"] = entry.Hash,
    };

    private static JsonNode? ParseStored(string? text)
    {
        if (text is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            // Stored text that is no longer JSON (a tampered entry) is shown as it is, so verification can point at it.
            return JsonValue.Create(text);
        }
    }
}
