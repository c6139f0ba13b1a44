using System.Text;

namespace Bulwark.Ingest;

/// <summary>Collects a delivery's events and issues; every event is checked against schema v1 on the way in.</summary>
internal sealed class NormalizeBuilder
{
    private const int MaxErrorsInReason = 10;

    private readonly List<NormalizedEvent> _events = [];
    private List<NormalizeIssue>? _issues;
    private int _moreIssues;

    /// <summary>Adds an event built by a mapping; one that breaks the schema, or is over the size limit, becomes an issue instead.</summary>
    public void Add(int index, NormalizedEvent value)
    {
        var errors = EventSchema.Validate(value);
        if (errors.Count > 0)
        {
            Issue(index, "the event it maps to is invalid: " + Join(errors));
        }
        else if (EventJson.SizeProblem(EventJson.Measure(value)) is { } tooLarge)
        {
            Issue(index, "the event it maps to is too large: " + tooLarge);
        }
        else
        {
            _events.Add(value);
        }
    }

    /// <summary>Adds an event already read and checked by <see cref="EventJson"/>.</summary>
    public void AddChecked(NormalizedEvent value) => _events.Add(value);

    /// <summary>Adds an issue; past <see cref="NormalizeResult.MaxIssues"/> it is only counted.</summary>
    public void Issue(int index, string reason)
    {
        _issues ??= [];
        if (_issues.Count < NormalizeResult.MaxIssues)
        {
            _issues.Add(new NormalizeIssue(index, reason));
        }
        else
        {
            _moreIssues++;
        }
    }

    public NormalizeResult Build() => new(_events, _issues ?? (IReadOnlyList<NormalizeIssue>)[]) { MoreIssues = _moreIssues };

    /// <summary>Schema errors in one line (the first ten, then how many more).</summary>
    public static string Join(IReadOnlyList<EventSchemaError> errors)
    {
        var text = new StringBuilder();
        for (var i = 0; i < errors.Count && i < MaxErrorsInReason; i++)
        {
            if (i > 0)
            {
                text.Append("; ");
            }

            text.Append(errors[i].ToString());
        }

        if (errors.Count > MaxErrorsInReason)
        {
            text.Append("; and ").Append(errors.Count - MaxErrorsInReason).Append(" more");
        }

        return text.ToString();
    }
}
