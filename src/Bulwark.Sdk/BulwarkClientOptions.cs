namespace Bulwark.Sdk;

/// <summary>Options of <see cref="BulwarkFlagClient"/>.</summary>
public sealed class BulwarkClientOptions
{
    /// <summary>The Bulwark server, for example <c>http://127.0.0.1:5380</c>.</summary>
    public Uri? ServerUrl { get; set; }

    /// <summary>A bearer token with at least the <c>viewer</c> role.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// How old the client's data may get without contact with the server (an event, a heartbeat or a poll) before it is
    /// stale; stale flags with <c>fail_mode: closed</c> evaluate to their off variant.
    /// </summary>
    /// <value>Default 30 seconds (twice the server's heartbeat).</value>
    public TimeSpan MaxStaleness { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the client polls the ETag snapshot while the stream is down.</summary>
    /// <value>Default 15 seconds.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The first reconnect delay; it doubles per failed attempt, with full jitter, up to <see cref="MaxReconnectDelay"/>.</summary>
    /// <value>Default 500 milliseconds.</value>
    public TimeSpan MinReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest reconnect delay.</summary>
    /// <value>Default 30 seconds.</value>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Where the last good snapshot is saved after every change, and read at start; <see langword="null"/> for none.</summary>
    public string? SnapshotFile { get; set; }

    /// <summary>A snapshot file shipped with the application, used at start when there is no saved snapshot.</summary>
    public string? BootstrapFile { get; set; }

    /// <summary>The clock; tests pass a fake one.</summary>
    /// <value>Default <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>A source of jitter in [0, 1); tests pass a fixed one.</summary>
    /// <value>Default <see cref="Random.Shared"/>.</value>
    public Func<double> Jitter { get; set; } = Random.Shared.NextDouble;

    /// <summary>Sends the requests; tests and hosts may supply their own handler.</summary>
    /// <value>Default a new <see cref="SocketsHttpHandler"/>.</value>
    public HttpMessageHandler? HttpHandler { get; set; }
}
