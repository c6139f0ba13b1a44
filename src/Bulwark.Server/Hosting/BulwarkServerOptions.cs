namespace Bulwark.Server.Hosting;

/// <summary>Options of the Bulwark HTTP service.</summary>
public sealed class BulwarkServerOptions
{
    /// <summary>The largest request body accepted; larger ones get 413.</summary>
    /// <value>Default 1 MiB.</value>
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a response is kept for replay under its <c>Idempotency-Key</c>.</summary>
    /// <value>Default 24 hours.</value>
    public TimeSpan IdempotencyRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How often an idle change stream sends a heartbeat comment.</summary>
    /// <value>Default 15 seconds.</value>
    public TimeSpan StreamHeartbeat { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The admin token to create on first start; <see langword="null"/> to generate one.</summary>
    /// <value>Default from the <c>BULWARK_BOOTSTRAP_TOKEN</c> environment variable, read by the CLI.</value>
    public string? BootstrapToken { get; set; }

    /// <summary>Where a generated admin token is written (mode 0600) on first start; <see langword="null"/> to write none.</summary>
    /// <value>Default <c>DIR/admin-token</c>, set by the CLI.</value>
    public string? AdminTokenFile { get; set; }

    /// <summary>
    /// Mass actions whose audience is larger than this need a second person's approval before their first permit.
    /// </summary>
    /// <value>Default 10,000.</value>
    public long MassActionApprovalThreshold { get; set; } = Bulwark.MassActions.MassActionRules.DefaultApprovalThreshold;
}
