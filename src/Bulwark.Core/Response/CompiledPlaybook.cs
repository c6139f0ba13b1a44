namespace Bulwark.Response;

/// <summary>One step with its <c>run_if</c> and templates compiled.</summary>
/// <param name="Step">The step.</param>
/// <param name="RunIf">Its condition, or <see langword="null"/> when it always runs.</param>
/// <param name="With">Its parameters.</param>
/// <param name="CompensateWith">Its compensation's parameters, when it has a compensation.</param>
public sealed record CompiledStep(PlaybookStep Step, CompiledCondition? RunIf, CompiledObjectTemplate With, CompiledObjectTemplate? CompensateWith);

/// <summary>A playbook with every condition and template compiled once, for the executor to render many times.</summary>
public sealed class CompiledPlaybook
{
    private readonly Dictionary<string, CompiledStep> _steps;

    private CompiledPlaybook(PlaybookDefinition definition, Dictionary<string, CompiledStep> steps)
    {
        Definition = definition;
        _steps = steps;
    }

    /// <summary>The playbook.</summary>
    public PlaybookDefinition Definition { get; }

    /// <summary>Compiles a playbook validated by <see cref="PlaybookKind"/>.</summary>
    /// <param name="definition">The playbook.</param>
    /// <returns>The compiled playbook.</returns>
    /// <exception cref="FormatException">A condition or template is invalid (the playbook was not validated).</exception>
    public static CompiledPlaybook Compile(PlaybookDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var steps = new Dictionary<string, CompiledStep>(StringComparer.Ordinal);
        foreach (var step in definition.AllSteps)
        {
            steps[step.Id] = new CompiledStep(
                step,
                step.RunIf is { } runIf ? Conditions.Compile(runIf) : null,
                Templates.Compile(step.With),
                step.Compensate is { } compensate ? Templates.Compile(compensate.With) : null);
        }

        return new CompiledPlaybook(definition, steps);
    }

    /// <summary>A compiled step.</summary>
    /// <param name="stepId">The step's id.</param>
    /// <returns>The step.</returns>
    /// <exception cref="KeyNotFoundException">The playbook has no such step.</exception>
    public CompiledStep Step(string stepId) => _steps[stepId];
}
