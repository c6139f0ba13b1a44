using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.TestUtils.Fakes;

/// <summary>One side effect the platform applied.</summary>
public sealed record PlatformEffect(string Account, string Action, string? IdempotencyKey, JsonNode? Body);

/// <summary>
/// A platform's account API as the seeds describe it: <c>POST /v1/accounts/{id}/{action}</c> (revoke_tokens,
/// expire_sessions, force_password_reset or any other action name) and <c>PATCH /v1/accounts/{id}</c> with
/// <c>{"suspended": bool, "suspended_until": …}</c>, behind <c>Authorization: Bearer &lt;token&gt;</c>. It honours
/// <c>Idempotency-Key</c> the way Stripe does: a repeated key gets the first answer again (with
/// <c>Idempotent-Replayed: true</c>) and applies nothing twice. Scripted failures apply nothing.
/// </summary>
public sealed class FakePlatformApi : LoopbackFake
{
    private readonly Lock _gate = new();
    private readonly List<PlatformEffect> _effects = [];
    private readonly Dictionary<string, FakeAnswer> _answered = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (bool Suspended, string? Until)> _accounts = new(StringComparer.Ordinal);

    private FakePlatformApi(string token) => Token = token;

    public string Token { get; }

    /// <summary>
    /// Called with every request the fake answers itself (not a scripted failure) as it arrives, before it is applied,
    /// with the <see cref="System.Diagnostics.Stopwatch"/> timestamp of its arrival (its body read); the answer is sent
    /// right after, unless a delay or stall was scripted. A load tool in the same process times containment calls by
    /// it. Called on the request's thread, under no lock of the fake's.
    /// </summary>
    public Action<RecordedRequest, long>? Received { get; set; }

    /// <summary>Every side effect applied, in order.</summary>
    public IReadOnlyList<PlatformEffect> Effects
    {
        get
        {
            lock (_gate)
            {
                return [.. _effects];
            }
        }
    }

    public static Task<FakePlatformApi> StartAsync(string token = "platform-api-token") => StartAsync(new FakePlatformApi(token));

    /// <summary>How many side effects were applied to an account.</summary>
    public int SideEffects(string account)
    {
        lock (_gate)
        {
            return _effects.Count(e => e.Account == account);
        }
    }

    /// <summary>How many times <paramref name="action"/> was applied to an account.</summary>
    public int SideEffects(string account, string action)
    {
        lock (_gate)
        {
            return _effects.Count(e => e.Account == account && e.Action == action);
        }
    }

    /// <summary>Whether an account is suspended, and until when.</summary>
    public (bool Suspended, string? Until) Account(string account)
    {
        lock (_gate)
        {
            return _accounts.GetValueOrDefault(account);
        }
    }

    protected override FakeAnswer Answer(RecordedRequest request)
    {
        Received?.Invoke(request, System.Diagnostics.Stopwatch.GetTimestamp());
        if (request.Header("Authorization") != "Bearer " + Token)
        {
            return FakeAnswer.Json(401, new JsonObject { ["error"] = "unauthorized" });
        }

        var key = request.Header("Idempotency-Key");
        lock (_gate)
        {
            if (key is not null && _answered.TryGetValue(key, out var first))
            {
                return first with { Headers = new Dictionary<string, string> { ["Idempotent-Replayed"] = "true" } };
            }

            var answer = Apply(request, key);
            if (key is not null && answer.Status < 500)
            {
                _answered[key] = answer;
            }

            return answer;
        }
    }

    private FakeAnswer Apply(RecordedRequest request, string? key)
    {
        var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length < 3 || segments[0] != "v1" || segments[1] != "accounts" || segments.Length > 4)
        {
            return FakeAnswer.Json(404, new JsonObject { ["error"] = "not_found" });
        }

        var account = Uri.UnescapeDataString(segments[2]);
        if (segments.Length == 4 && request.Method == "POST")
        {
            var action = segments[3];
            _effects.Add(new PlatformEffect(account, action, key, request.Body.Length == 0 ? null : request.Json));
            return FakeAnswer.Json(200, new JsonObject { ["id"] = account, ["action"] = action, ["status"] = "done" });
        }

        if (segments.Length == 3 && request.Method == "PATCH")
        {
            JsonObject? body;
            try
            {
                body = JsonNode.Parse(request.Body) as JsonObject;
            }
            catch (JsonException)
            {
                body = null;
            }

            if (body?["suspended"] is not JsonValue flag || !flag.TryGetValue<bool>(out var suspended))
            {
                return FakeAnswer.Json(400, new JsonObject { ["error"] = "invalid_request", ["message"] = "suspended (boolean) is required" });
            }

            var until = body["suspended_until"]?.GetValue<string>();
            _accounts[account] = (suspended, suspended ? until : null);
            _effects.Add(new PlatformEffect(account, suspended ? "suspend" : "unsuspend", key, body));
            return FakeAnswer.Json(200, new JsonObject { ["id"] = account, ["suspended"] = suspended, ["suspended_until"] = suspended ? until : null });
        }

        return FakeAnswer.Json(405, new JsonObject { ["error"] = "method_not_allowed" });
    }
}
