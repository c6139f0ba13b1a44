namespace Bulwark.Sdk;

/// <summary>
/// A client's background loop and the HTTP client it uses: started once, stopped and disposed once (further disposals
/// do nothing), the loop awaited before the HTTP client goes.
/// </summary>
internal sealed class BackgroundLoop(HttpClient http) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _disposed;

    public HttpClient Http { get; } = http;

    public void Start(Func<CancellationToken, Task> loop) => _loop = Task.Run(() => loop(_stop.Token), CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        Http.Dispose();
        _stop.Dispose();
    }
}
