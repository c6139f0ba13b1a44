using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.Ingest;
using Bulwark.MassActions;
using Bulwark.Throttling;

namespace Bulwark.Storage;

/// <summary>
/// The control-state store: identities, tokens, flags, throttles and their manual blocks, mass actions, sources, detections and incidents, playbook runs and approvals, evidence records, idempotency records and the audit log. Reads run concurrently; every
/// change runs through <see cref="WriteAsync{T}"/>, whose work executes inside one transaction with its audit entries,
/// so a state change is never visible without its entry. Adapters: SQLite (embedded default), PostgreSQL (scale-out);
/// both pass the same contract test suite.
/// </summary>
public interface IControlStore : IAsyncDisposable
{
    /// <summary>Creates or upgrades the schema to the latest version; safe to call on every start.</summary>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>The schema version now in force.</returns>
    Task<int> MigrateAsync(CancellationToken cancellationToken = default);

    /// <summary>Whether the store is open and migrated.</summary>
    bool IsReady { get; }

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction and commits it. Work that changes state must append at least
    /// one audit entry, or the store rolls it back and throws. When <paramref name="work"/> throws, nothing it did is
    /// kept and the exception is rethrown. The store may commit several callers' work in one transaction; each stays
    /// atomic on its own.
    /// </summary>
    /// <typeparam name="T">What the work returns.</typeparam>
    /// <param name="work">The work; it must not block on anything but the transaction.</param>
    /// <param name="cancellationToken">Cancels waiting; work already committed stays committed.</param>
    /// <returns>What <paramref name="work"/> returned, once its transaction is durable.</returns>
    Task<T> WriteAsync<T>(Func<IWriteTransaction, T> work, CancellationToken cancellationToken = default);

    /// <summary>Reads an identity.</summary>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The identity, or <see langword="null"/>.</returns>
    Task<IdentityRecord?> GetIdentityAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists identities by name.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Every identity, ordered by name.</returns>
    Task<IReadOnlyList<IdentityRecord>> ListIdentitiesAsync(CancellationToken cancellationToken = default);

    /// <summary>Finds a token by the hash of its value, active or not.</summary>
    /// <param name="hash">SHA-256 of the token.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The token, or <see langword="null"/>.</returns>
    Task<TokenRecord?> FindTokenAsync(byte[] hash, CancellationToken cancellationToken = default);

    /// <summary>Lists tokens, newest first.</summary>
    /// <param name="identity">Only this identity's tokens; <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The tokens (hashes included; never the token values, which are not stored).</returns>
    Task<IReadOnlyList<TokenRecord>> ListTokensAsync(string? identity = null, CancellationToken cancellationToken = default);

    /// <summary>Reads audit entries in sequence order.</summary>
    /// <param name="afterSeq">Only entries with a greater sequence number.</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entries as stored, whether or not they verify.</returns>
    Task<IReadOnlyList<AuditEntry>> ReadAuditAsync(long afterSeq, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads every audit entry in sequence order and the recorded head, all from one consistent snapshot, so that writes
    /// landing meanwhile can never make an intact log look truncated. Used by verification; memory stays constant.
    /// </summary>
    /// <param name="visit">Called for each entry, in order.</param>
    /// <param name="cancellationToken">Cancels the scan.</param>
    /// <returns>The head recorded in the same snapshot.</returns>
    Task<AuditHead> ScanAuditAsync(Action<AuditEntry> visit, CancellationToken cancellationToken = default);

    /// <summary>The head the store recorded with its last audit append (not recomputed from the entries).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The recorded head, or <see cref="AuditHead.Empty"/>.</returns>
    Task<AuditHead> GetRecordedAuditHeadAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads a flag.</summary>
    /// <param name="key">The flag key.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The flag, or <see langword="null"/>.</returns>
    Task<FlagRecord?> GetFlagAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Lists every flag, archived ones included, by key, with the snapshot version they make up.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The flags and the current flag snapshot version, read together.</returns>
    Task<(IReadOnlyList<FlagRecord> Flags, long Version)> ListFlagsAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads a throttle.</summary>
    /// <param name="name">The throttle's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The throttle, or <see langword="null"/>.</returns>
    Task<ThrottleRecord?> GetThrottleAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists every throttle by name, with the throttles version they make up.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The throttles and the current throttles version, read together.</returns>
    Task<(IReadOnlyList<ThrottleRecord> Throttles, long Version)> ListThrottlesAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists manual throttle blocks by throttle and key, lapsed ones included until they are swept.</summary>
    /// <param name="throttle">Only this throttle's; <see langword="null"/> for every throttle's.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The blocks.</returns>
    Task<IReadOnlyList<ThrottleManualBlock>> ListThrottleBlocksAsync(string? throttle = null, CancellationToken cancellationToken = default);

    /// <summary>Reads a source.</summary>
    /// <param name="name">The source's name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The source, or <see langword="null"/>.</returns>
    Task<SourceRecord?> GetSourceAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists sources by name, with the sources version they were read at (one snapshot).</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The sources and the version.</returns>
    Task<(IReadOnlyList<SourceRecord> Sources, long Version)> ListSourcesAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads a mass action by id (<c>ma_…</c>) or by name (names never start with <c>ma_</c>).</summary>
    /// <param name="idOrName">The id or the name.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The mass action, or <see langword="null"/>.</returns>
    Task<MassActionRecord?> GetMassActionAsync(string idOrName, CancellationToken cancellationToken = default);

    /// <summary>Lists every mass action, newest first.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The mass actions.</returns>
    Task<IReadOnlyList<MassActionRecord>> ListMassActionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads a pending (or decided) state change.</summary>
    /// <param name="id">The change id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The change, or <see langword="null"/>.</returns>
    Task<PendingChange?> GetChangeAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lists state changes, newest first.</summary>
    /// <param name="status">Only changes stored with this status; <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The changes.</returns>
    Task<IReadOnlyList<PendingChange>> ListChangesAsync(ChangeStatus? status = null, CancellationToken cancellationToken = default);

    /// <summary>Lists the definitions of a kind by name, with the kind's version they were read at (one snapshot).</summary>
    /// <param name="kind">The manifest kind.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The definitions and the version.</returns>
    Task<(IReadOnlyList<DefinitionRecord> Definitions, long Version)> ListDefinitionsAsync(string kind, CancellationToken cancellationToken = default);

    /// <summary>Reads an incident.</summary>
    /// <param name="id">Its id (<c>inc_…</c>).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The incident, or <see langword="null"/>.</returns>
    Task<IncidentRecord?> GetIncidentAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lists incidents, newest first, each with its position (for paging).</summary>
    /// <param name="query">The filter and the page.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The incidents.</returns>
    Task<IReadOnlyList<Positioned<IncidentRecord>>> ListIncidentsAsync(IncidentQuery query, CancellationToken cancellationToken = default);

    /// <summary>Lists detections, newest first, each with its position (for paging).</summary>
    /// <param name="query">The filter and the page.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The detections.</returns>
    Task<IReadOnlyList<Positioned<DetectionRecord>>> ListDetectionsAsync(DetectionQuery query, CancellationToken cancellationToken = default);

    /// <summary>Reads a playbook run.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The run, or <see langword="null"/>.</returns>
    Task<Bulwark.Response.StoredRun?> GetRunAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lists playbook runs, newest first.</summary>
    /// <param name="query">The filter.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The runs with their positions.</returns>
    Task<IReadOnlyList<Positioned<Bulwark.Response.StoredRun>>> ListRunsAsync(Bulwark.Response.RunQuery query, CancellationToken cancellationToken = default);

    /// <summary>Every run that is not finished, oldest first: what the executor resumes after a start.</summary>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The runs.</returns>
    Task<IReadOnlyList<Bulwark.Response.StoredRun>> ListActiveRunsAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads an evidence record, with its content.</summary>
    /// <param name="id">Its id (<c>evd_…</c>).</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The record, or <see langword="null"/>.</returns>
    Task<Bulwark.Response.StoredEvidence?> GetEvidenceAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lists an incident's evidence records, newest first, with their content.</summary>
    /// <param name="incidentId">The incident.</param>
    /// <param name="before">Only records stored before this position (paging).</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The records with their positions.</returns>
    Task<IReadOnlyList<Positioned<Bulwark.Response.StoredEvidence>>> ListEvidenceAsync(string incidentId, long? before, int limit, CancellationToken cancellationToken = default);

    /// <summary>Reads an approval.</summary>
    /// <param name="id">Its id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The approval, or <see langword="null"/>.</returns>
    Task<Bulwark.Response.StoredApproval?> GetApprovalAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lists approvals, newest first.</summary>
    /// <param name="status">Only this status (<c>pending</c>, …), or <see langword="null"/> for all.</param>
    /// <param name="runId">Only this run's, or <see langword="null"/>.</param>
    /// <param name="before">Only approvals stored before this position (paging).</param>
    /// <param name="limit">At most this many.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The approvals with their positions.</returns>
    Task<IReadOnlyList<Positioned<Bulwark.Response.StoredApproval>>> ListApprovalsAsync(string? status, string? runId, long? before, int limit, CancellationToken cancellationToken = default);

    /// <summary>Reads the stored response for an idempotency key.</summary>
    /// <param name="scope">Whose key it is (the identity name).</param>
    /// <param name="key">The <c>Idempotency-Key</c> header value.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The record, or <see langword="null"/>.</returns>
    Task<IdempotencyRecord?> GetIdempotencyAsync(string scope, string key, CancellationToken cancellationToken = default);
}

/// <summary>The operations available inside <see cref="IControlStore.WriteAsync{T}"/>; reads see the transaction's own writes.</summary>
public interface IWriteTransaction
{
    /// <summary>The time of this transaction, from the store's <see cref="TimeProvider"/>.</summary>
    DateTimeOffset Now { get; }

    /// <summary>Reads an identity.</summary>
    /// <param name="name">Its name.</param>
    /// <returns>The identity, or <see langword="null"/>.</returns>
    IdentityRecord? GetIdentity(string name);

    /// <summary>Lists identities by name.</summary>
    /// <returns>Every identity.</returns>
    IReadOnlyList<IdentityRecord> ListIdentities();

    /// <summary>Inserts or replaces an identity. A state change: must be audited.</summary>
    /// <param name="identity">The identity.</param>
    void PutIdentity(IdentityRecord identity);

    /// <summary>Deletes an identity and revokes its tokens. A state change: must be audited.</summary>
    /// <param name="name">Its name.</param>
    /// <returns>Whether it existed.</returns>
    bool DeleteIdentity(string name);

    /// <summary>Reads a token by id.</summary>
    /// <param name="id">The token id.</param>
    /// <returns>The token, or <see langword="null"/>.</returns>
    TokenRecord? GetToken(string id);

    /// <summary>Lists an identity's tokens.</summary>
    /// <param name="identity">The identity name.</param>
    /// <returns>Its tokens, active or not.</returns>
    IReadOnlyList<TokenRecord> ListTokens(string identity);

    /// <summary>Stores a new token. A state change: must be audited.</summary>
    /// <param name="token">The token record.</param>
    void InsertToken(TokenRecord token);

    /// <summary>Marks a token revoked. A state change: must be audited.</summary>
    /// <param name="id">The token id.</param>
    /// <param name="at">When.</param>
    /// <returns>Whether an active token was revoked.</returns>
    bool RevokeToken(string id, DateTimeOffset at);

    /// <summary>Reads a flag.</summary>
    /// <param name="key">The flag key.</param>
    /// <returns>The flag, or <see langword="null"/>.</returns>
    FlagRecord? GetFlag(string key);

    /// <summary>
    /// Inserts or replaces a flag and advances the flag snapshot version, which the stored record takes as its
    /// <see cref="FlagRecord.Version"/>. A state change: must be audited.
    /// </summary>
    /// <param name="flag">The flag (its <see cref="FlagRecord.Version"/> is ignored).</param>
    /// <returns>The new snapshot version.</returns>
    long PutFlag(FlagRecord flag);

    /// <summary>Reads a throttle.</summary>
    /// <param name="name">The throttle's name.</param>
    /// <returns>The throttle, or <see langword="null"/>.</returns>
    ThrottleRecord? GetThrottle(string name);

    /// <summary>
    /// Inserts or replaces a throttle and advances the throttles version, which the stored record takes as its
    /// <see cref="ThrottleRecord.Version"/>. A state change: must be audited.
    /// </summary>
    /// <param name="throttle">The throttle (its <see cref="ThrottleRecord.Version"/> is ignored).</param>
    /// <returns>The new throttles version.</returns>
    long PutThrottle(ThrottleRecord throttle);

    /// <summary>Reads the manual block of a key of a throttle, lapsed or not.</summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="key">The key.</param>
    /// <returns>The block, or <see langword="null"/>.</returns>
    ThrottleManualBlock? GetThrottleBlock(string throttle, string key);

    /// <summary>Inserts or replaces the manual block of a key of a throttle. A state change: must be audited.</summary>
    /// <param name="block">The block.</param>
    void PutThrottleBlock(ThrottleManualBlock block);

    /// <summary>Deletes the manual block of a key of a throttle. A state change: must be audited.</summary>
    /// <param name="throttle">The throttle's name.</param>
    /// <param name="key">The key.</param>
    /// <returns>Whether there was one.</returns>
    bool DeleteThrottleBlock(string throttle, string key);

    /// <summary>
    /// Deletes manual blocks that lapsed before <paramref name="cutoff"/> (not a state change, not audited: a lapsed block
    /// has no effect, and the entry that set it says until when).
    /// </summary>
    /// <param name="cutoff">Blocks whose expiry is at or before this go.</param>
    /// <returns>How many were deleted.</returns>
    int DeleteThrottleBlocksBefore(DateTimeOffset cutoff);

    /// <summary>Reads a source.</summary>
    /// <param name="name">The source's name.</param>
    /// <returns>The source, or <see langword="null"/>.</returns>
    SourceRecord? GetSource(string name);

    /// <summary>
    /// Inserts or replaces a source and advances the sources version, which the stored record takes as its
    /// <see cref="SourceRecord.Version"/>. A state change: must be audited.
    /// </summary>
    /// <param name="source">The source (its <see cref="SourceRecord.Version"/> is ignored).</param>
    /// <returns>The new sources version.</returns>
    long PutSource(SourceRecord source);

    /// <summary>Reads a mass action by id or by name.</summary>
    /// <param name="idOrName">The id (<c>ma_…</c>) or the name.</param>
    /// <returns>The mass action, or <see langword="null"/>.</returns>
    MassActionRecord? GetMassAction(string idOrName);

    /// <summary>Inserts or replaces a mass action (its declaration is kept once inserted). A state change: must be audited.</summary>
    /// <param name="action">The mass action, counters included.</param>
    void PutMassAction(MassActionRecord action);

    /// <summary>
    /// Writes a mass action's counters and nothing else (not a state change; not audited, like idempotency records):
    /// permits and reports are too frequent for an entry each, and the audited transitions carry the counters.
    /// </summary>
    /// <param name="id">The mass action's id.</param>
    /// <param name="progress">The counters.</param>
    /// <returns>Whether the mass action exists.</returns>
    bool PutMassActionProgress(string id, MassActionProgress progress);

    /// <summary>The newest audit entry with this target and action (for example the kill that turned a flag <c>EMERGENCY_OFF</c>).</summary>
    /// <param name="target">For example <c>flag/bulk-reset</c>.</param>
    /// <param name="action">For example <c>flag.state</c>.</param>
    /// <returns>The entry, or <see langword="null"/>.</returns>
    AuditEntry? FindLastAudit(string target, string action);

    /// <summary>Reads a state change.</summary>
    /// <param name="id">The change id.</param>
    /// <returns>The change, or <see langword="null"/>.</returns>
    PendingChange? GetChange(string id);

    /// <summary>Inserts or replaces a state change. A state change: must be audited.</summary>
    /// <param name="change">The change.</param>
    void PutChange(PendingChange change);

    /// <summary>Reads a definition.</summary>
    /// <param name="kind">The manifest kind.</param>
    /// <param name="name">The name.</param>
    /// <returns>The definition, or <see langword="null"/>.</returns>
    DefinitionRecord? GetDefinition(string kind, string name);

    /// <summary>
    /// Inserts or replaces a definition and advances its kind's version, which the stored record takes as its
    /// <see cref="DefinitionRecord.Version"/>. A state change: must be audited.
    /// </summary>
    /// <param name="definition">The definition (its <see cref="DefinitionRecord.Version"/> is ignored).</param>
    /// <returns>The kind's new version.</returns>
    long PutDefinition(DefinitionRecord definition);

    /// <summary>Reads a detection.</summary>
    /// <param name="id">Its id (<c>det_…</c>).</param>
    /// <returns>The detection, or <see langword="null"/>.</returns>
    DetectionRecord? GetDetection(string id);

    /// <summary>
    /// Stores a detection, unless one with its id is stored already (a detection found again after a restart or a
    /// replay): then nothing is written. A state change when it inserts: must be audited.
    /// </summary>
    /// <param name="detection">The detection.</param>
    /// <returns>Whether it was new.</returns>
    bool InsertDetection(DetectionRecord detection);

    /// <summary>Reads an incident.</summary>
    /// <param name="id">Its id.</param>
    /// <returns>The incident, or <see langword="null"/>.</returns>
    IncidentRecord? GetIncident(string id);

    /// <summary>Inserts or replaces an incident (its position is kept once inserted). A state change: must be audited.</summary>
    /// <param name="incident">The incident.</param>
    void PutIncident(IncidentRecord incident);

    /// <summary>Reads a playbook run.</summary>
    /// <param name="id">Its id.</param>
    /// <returns>The run, or <see langword="null"/>.</returns>
    Bulwark.Response.StoredRun? GetRun(string id);

    /// <summary>
    /// Reads the runs of a playbook for an incident, newest first: the first, and a follow-up run for each time accounts
    /// or IPs joined the incident after that.
    /// </summary>
    /// <param name="playbook">The playbook.</param>
    /// <param name="incidentId">The incident.</param>
    /// <returns>The runs (at most 1,000), or none.</returns>
    IReadOnlyList<Bulwark.Response.StoredRun> FindRuns(string playbook, string incidentId);

    /// <summary>Inserts or replaces a run (its position is kept once inserted). A state change: must be audited.</summary>
    /// <param name="run">The run.</param>
    void PutRun(Bulwark.Response.StoredRun run);

    /// <summary>Reads an approval.</summary>
    /// <param name="id">Its id.</param>
    /// <returns>The approval, or <see langword="null"/>.</returns>
    Bulwark.Response.StoredApproval? GetApproval(string id);

    /// <summary>Inserts or replaces an approval (its position is kept once inserted). A state change: must be audited.</summary>
    /// <param name="approval">The approval.</param>
    void PutApproval(Bulwark.Response.StoredApproval approval);

    /// <summary>Finds the evidence record made by the call with an idempotency key.</summary>
    /// <param name="idempotencyKey">The call's idempotency key.</param>
    /// <returns>The record, or <see langword="null"/>.</returns>
    Bulwark.Response.StoredEvidence? FindEvidence(string idempotencyKey);

    /// <summary>
    /// Stores an evidence record, unless one with its id or its idempotency key is stored already: then nothing is
    /// written. Records are never changed or deleted. A state change when it inserts: must be audited.
    /// </summary>
    /// <param name="evidence">The record.</param>
    /// <returns>Whether it was new.</returns>
    bool InsertEvidence(Bulwark.Response.StoredEvidence evidence);

    /// <summary>Stores a response for an idempotency key (not a state change; not audited).</summary>
    /// <param name="record">The record.</param>
    void PutIdempotency(IdempotencyRecord record);

    /// <summary>Deletes idempotency records created before <paramref name="cutoff"/> (not audited).</summary>
    /// <param name="cutoff">The oldest creation time kept.</param>
    /// <returns>How many were deleted.</returns>
    int DeleteIdempotencyBefore(DateTimeOffset cutoff);

    /// <summary>Appends an entry to the audit log, linked to the current head.</summary>
    /// <param name="draft">What happened.</param>
    /// <returns>The entry as written.</returns>
    AuditEntry Append(AuditDraft draft);
}

/// <summary>A response kept for an <c>Idempotency-Key</c>, replayed when the same request comes again.</summary>
public sealed record IdempotencyRecord
{
    /// <summary>Whose key it is: the identity name.</summary>
    public required string Scope { get; init; }

    /// <summary>The header value.</summary>
    public required string Key { get; init; }

    /// <summary>SHA-256 over method, path and body, in hex: the same key with another request is refused.</summary>
    public required string Fingerprint { get; init; }

    /// <summary>The response status code.</summary>
    public required int Status { get; init; }

    /// <summary>The response content type; <see langword="null"/> when there was no body.</summary>
    public string? ContentType { get; init; }

    /// <summary>The response <c>Location</c> header, if any.</summary>
    public string? Location { get; init; }

    /// <summary>The response body.</summary>
    public required byte[] Body { get; init; }

    /// <summary>When the first response was stored.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>Thrown by a store when work changed state without appending an audit entry.</summary>
public sealed class UnauditedChangeException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public UnauditedChangeException()
        : base("A state change was attempted without an audit entry in the same transaction; it was rolled back.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public UnauditedChangeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public UnauditedChangeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A record with its position in its table, for paging (<c>before</c> / <c>next_before</c>).</summary>
/// <typeparam name="T">The record.</typeparam>
/// <param name="Seq">Its position: increasing in insertion order, never reused.</param>
/// <param name="Value">The record.</param>
public sealed record Positioned<T>(long Seq, T Value);

/// <summary>A filter over incidents (every part optional).</summary>
/// <param name="Status">Only this status.</param>
/// <param name="Severity">Only this severity.</param>
/// <param name="Before">Only incidents stored before this position (paging, newest first).</param>
/// <param name="Limit">At most this many.</param>
public sealed record IncidentQuery(IncidentStatus? Status = null, Severity? Severity = null, long? Before = null, int Limit = 100);

/// <summary>A filter over detections (every part optional).</summary>
/// <param name="IncidentId">Only this incident's.</param>
/// <param name="Rule">Only this rule's or detector's.</param>
/// <param name="Before">Only detections stored before this position (paging, newest first).</param>
/// <param name="Limit">At most this many.</param>
public sealed record DetectionQuery(string? IncidentId = null, string? Rule = null, long? Before = null, int Limit = 100);
