using System.Diagnostics.Metrics;

namespace Bulwark.Storage;

/// <summary>The metrics every store adapter reports, on a <see cref="Meter"/> the host owns.</summary>
public sealed class StoreInstruments
{
    /// <summary>Creates the instruments on <paramref name="meter"/>.</summary>
    /// <param name="meter">The host's meter (the server exports it at <c>/metrics</c>).</param>
    public StoreInstruments(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        AuditAppends = meter.CreateCounter<long>("bulwark.audit.appends", "{entry}", "Audit entries appended");
        WriteCommits = meter.CreateCounter<long>("bulwark.store.commits", "{commit}", "Write transactions committed (each may carry several callers' work)");
        WriteWork = meter.CreateCounter<long>("bulwark.store.writes", "{write}", "Units of write work committed or rolled back, by outcome");
    }

    /// <summary>Instruments that record nothing anyone listens to: for tools and tests that do not export metrics.</summary>
    public static StoreInstruments Unobserved { get; } = new(new Meter("Bulwark.Unobserved"));

    /// <summary>Audit entries appended (<c>bulwark.audit.appends</c>).</summary>
    public Counter<long> AuditAppends { get; }

    /// <summary>Write transactions committed (<c>bulwark.store.commits</c>).</summary>
    public Counter<long> WriteCommits { get; }

    /// <summary>Units of work, tagged <c>outcome</c> = <c>committed</c> or <c>rolled_back</c> (<c>bulwark.store.writes</c>).</summary>
    public Counter<long> WriteWork { get; }
}
