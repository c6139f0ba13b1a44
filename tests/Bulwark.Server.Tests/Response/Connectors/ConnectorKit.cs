using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Ingest;
using Bulwark.Response;
using Bulwark.Server.Ingest;
using Bulwark.Server.Response;
using Bulwark.Server.Response.Connectors;
using Bulwark.TestUtils;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Response.Connectors;

/// <summary>
/// The connector handlers as the server registers them (<see cref="ConnectorActionsServices.AddConnectorActions"/>),
/// on a fake clock, with test secrets and a dictionary of connectors.
/// </summary>
internal sealed class ConnectorKit : IAsyncDisposable
{
    public static readonly Uri PublicUrl = new("https://bulwark.example.com/");

    private static readonly System.Text.Json.JsonSerializerOptions RawJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly ServiceProvider _services;
    private int _calls;

    public ConnectorKit(FakeTimeProvider? time = null, TestSecrets? secrets = null, Dictionary<string, ConnectorDefinition>? connectors = null)
    {
        Time = time ?? new FakeTimeProvider();
        Secrets = secrets ?? new TestSecrets();
        Connectors = connectors ?? new Dictionary<string, ConnectorDefinition>(StringComparer.Ordinal);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Time);
        services.AddSingleton<ISecretResolver>(Secrets);
        services.AddSingleton<IConnectorCatalog>(new Catalog(Connectors));
        services.AddConnectorActions(o => o.PublicUrl = PublicUrl);
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public FakeTimeProvider Time { get; }

    public TestSecrets Secrets { get; }

    /// <summary>The connectors the catalog knows (ticket connectors are looked up here).</summary>
    public Dictionary<string, ConnectorDefinition> Connectors { get; }

    public ConnectorBreakers Breakers => _services.GetRequiredService<ConnectorBreakers>();

    public IReadOnlyList<IActionHandler> Handlers => [.. _services.GetServices<IActionHandler>()];

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static IncidentRecord Incident(string id = "inc_01JTAKEOVER", Severity severity = Severity.High, string title = "Account takeover: password reset then new device") => new()
    {
        Id = id,
        Title = title,
        Kind = IncidentKind.Campaign,
        Status = IncidentStatus.Open,
        Severity = severity,
        Confidence = 0.93,
        Accounts = ["acct-1001", "acct-1002"],
        Ips = ["203.0.113.9"],
        Rules = ["ato-reset-then-new-device"],
        Platforms = ["instagram", "x"],
        DetectionIds = ["det_1", "det_2"],
        FirstEventAt = new DateTimeOffset(2026, 11, 21, 8, 55, 0, TimeSpan.Zero),
        DetectedEventAt = new DateTimeOffset(2026, 11, 21, 8, 58, 0, TimeSpan.Zero),
        LastEventAt = new DateTimeOffset(2026, 11, 21, 8, 58, 0, TimeSpan.Zero),
        CreatedAt = new DateTimeOffset(2026, 11, 21, 8, 58, 1, TimeSpan.Zero),
        UpdatedAt = new DateTimeOffset(2026, 11, 21, 8, 58, 30, TimeSpan.Zero),
    };

    /// <summary>A connector whose secret is <c>env:&lt;NAME&gt;</c>, set to <paramref name="secretValue"/>.</summary>
    public ConnectorDefinition Connector(
        string name, ConnectorType type, Uri? url, string? secretValue, Func<ConnectorDefinition, ConnectorDefinition>? change = null)
    {
        var envName = "CONNECTOR_" + name.ToUpperInvariant().Replace('-', '_');
        if (secretValue is not null)
        {
            Secrets[envName] = secretValue;
        }

        var connector = new ConnectorDefinition
        {
            Name = name,
            Type = type,
            Url = url,
            Secret = new SecretReference("env", envName),
            Document = new JsonObject { ["name"] = name },
        };
        connector = change?.Invoke(connector) ?? connector;
        Connectors[name] = connector;
        return connector;
    }

    /// <summary>A call as the executor makes it: key = hash(run, step, target).</summary>
    public ActionCall Call(
        string action,
        ConnectorDefinition? connector,
        string target = "acct-1001",
        JsonObject? parameters = null,
        IncidentRecord? incident = null,
        string? step = null,
        TimeSpan? timeout = null,
        JsonObject? previous = null)
    {
        var stepId = step ?? "step-" + Interlocked.Increment(ref _calls);
        const string run = "run_01JRUN";
        return new ActionCall
        {
            RunId = run,
            Playbook = "contain-ato",
            StepId = stepId,
            Action = action,
            Target = target,
            IdempotencyKey = Key(run, stepId, target),
            CorrelationId = "corr-7f3a9c",
            Parameters = parameters ?? [],
            Incident = incident ?? Incident(),
            Connector = connector,
            Timeout = timeout ?? TimeSpan.FromSeconds(10),
            Previous = previous,
        };
    }

    public static string Key(string run, string step, string target) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{run}\n{step}\n{target}")));

    public IActionHandler Handler(string action) => Handlers.Single(h => h.Actions.Contains(action));

    public Task<ActionOutcome> ExecuteAsync(ActionCall call) => Handler(call.Action).ExecuteAsync(call, Ct);

    /// <summary>Asserts that nothing the executor keeps (error, output) holds <paramref name="secret"/>.</summary>
    public static void ShouldNotLeak(ActionOutcome outcome, string secret)
    {
        (outcome.Error ?? string.Empty).ShouldNotContain(secret);
        (outcome.Output is null ? string.Empty : Raw(outcome.Output)).ShouldNotContain(secret);
    }

    /// <summary>JSON text without escaping (<c>+</c>, <c>&lt;</c>… as written), so a search for a secret finds it.</summary>
    public static string Raw(JsonNode node) => node.ToJsonString(RawJson);

    public async ValueTask DisposeAsync() => await _services.DisposeAsync();

    private sealed class Catalog(Dictionary<string, ConnectorDefinition> connectors) : IConnectorCatalog
    {
        public ConnectorDefinition? Find(string name) => connectors.GetValueOrDefault(name);
    }
}
