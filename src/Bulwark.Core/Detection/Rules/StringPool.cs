using Bulwark.Ingest;

namespace Bulwark.Detection.Rules;

/// <summary>
/// Shares equal strings across events: every event read from the log has strings of its own, so without this an
/// account's id and IP would be kept once per event that rule state remembers. Two generations bound the pool: when the
/// current one is full it becomes the previous one and the one before is dropped (its strings stay alive only where
/// state still refers to them). The engine sets <see cref="Account"/> and <see cref="Ip"/> for each event before the
/// rules see it. Not thread-safe, like the engine.
/// </summary>
internal sealed class StringPool(int generation = StringPool.DefaultGeneration)
{
    /// <summary>Strings per generation.</summary>
    public const int DefaultGeneration = 1 << 20;

    private Dictionary<string, string> _current = new(StringComparer.Ordinal);
    private Dictionary<string, string> _previous = new(StringComparer.Ordinal);

    private NormalizedEvent? _event;
    private string? _account;
    private string? _ip;

    /// <summary>The current event's account id, shared (looked up when first asked for).</summary>
    public string Account => _account ??= Share(_event!.AccountId);

    /// <summary>The current event's IP, shared, if it has one (looked up when first asked for).</summary>
    public string? Ip => _ip ??= _event!.Actor?.Ip is { } ip ? Share(ip) : null;

    /// <summary>Takes the event the rules are about to see; its strings are shared only if state keeps them.</summary>
    public void Enter(NormalizedEvent e)
    {
        _event = e;
        _account = null;
        _ip = null;
    }

    /// <summary>The pool's instance equal to <paramref name="value"/> (which becomes it when there is none).</summary>
    public string Share(string value)
    {
        if (_current.TryGetValue(value, out var shared))
        {
            return shared;
        }

        if (_previous.Remove(value, out shared))
        {
            value = shared;
        }

        if (_current.Count >= generation)
        {
            _previous = _current;
            _current = new Dictionary<string, string>(StringComparer.Ordinal);
        }

        _current[value] = value;
        return value;
    }
}
