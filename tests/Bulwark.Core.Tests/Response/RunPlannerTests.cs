using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Bulwark.Detection.Incidents;
using Bulwark.Json;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class RunPlannerTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 1, 0, 0, TimeSpan.Zero);

    // a ─┬─ b ── d
    //    └─ c ─┘      e (independent, irreversible)
    private static readonly PlaybookDefinition Diamond = PlaybookKind.Instance.Read(JsonNode.Parse("""
        {"name":"diamond","trigger":{},"auto_threshold":0.8,"irreversible_threshold":0.95,"steps":[
          {"id":"a","action":"throttle.tighten","compensate":{"action":"throttle.relax"}},
          {"id":"b","action":"flag.kill","depends_on":["a"],"compensate":{"action":"flag.set_state"}},
          {"id":"c","action":"mass_action.halt","depends_on":["a"],"requires_approval":{"roles":["approver"],"on_expiry":"deny"}},
          {"id":"d","action":"evidence.snapshot","depends_on":["b","c"]},
          {"id":"e","action":"evidence.snapshot"}]}
        """)!.AsObject()).Value!;

    internal static IncidentRecord Incident(double confidence) => new()
    {
        Id = "inc_1",
        Title = "Account takeover of acct_1",
        Kind = IncidentKind.Account,
        Status = IncidentStatus.Open,
        Severity = Severity.High,
        Confidence = confidence,
        Accounts = ["acct_1"],
        Rules = ["contact-change-then-token-rotation"],
        FirstEventAt = Now,
        DetectedEventAt = Now,
        LastEventAt = Now,
        CreatedAt = Now,
        UpdatedAt = Now,
    };

    private static RunPlan Plan(params (string Id, StepStatus Status)[] steps) =>
        RunPlanner.Plan(Diamond, steps.ToDictionary(s => s.Id, s => s.Status));

    [Fact]
    public void Plan_AFreshRun_StartsTheStepsWithoutDependencies()
    {
        var plan = Plan();

        plan.Ready.ShouldBe(["a", "e"]);
        (plan.Skipped.Count, plan.Status, plan.Finished).ShouldBe((0, RunStatus.Running, false));
    }

    [Fact]
    public void Plan_AStepIsReady_OnlyWhenEveryDependencySucceeded()
    {
        Plan(("a", StepStatus.Running), ("e", StepStatus.Running)).Ready.ShouldBeEmpty();
        Plan(("a", StepStatus.Succeeded), ("e", StepStatus.Succeeded)).Ready.ShouldBe(["b", "c"]);
        Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Succeeded), ("c", StepStatus.WaitingApproval), ("e", StepStatus.Succeeded)).Ready.ShouldBeEmpty();
        Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Succeeded), ("c", StepStatus.Succeeded), ("e", StepStatus.Succeeded)).Ready.ShouldBe(["d"]);
    }

    [Fact]
    public void Plan_AFailedDependency_SkipsEveryDependentWithTheReason_AndTheRunFailsOnceTheRestIsDone()
    {
        var plan = Plan(("a", StepStatus.Failed), ("e", StepStatus.Running));

        plan.Skipped.ShouldBe([new StepSkip("b", "dependency 'a' failed"), new StepSkip("c", "dependency 'a' failed"), new StepSkip("d", "dependency 'b' was skipped")]);
        (plan.Ready.Count, plan.Status).ShouldBe((0, RunStatus.Running));

        var done = Plan(("a", StepStatus.Failed), ("b", StepStatus.Skipped), ("c", StepStatus.Skipped), ("d", StepStatus.Skipped), ("e", StepStatus.Succeeded));
        (done.Status, done.Reason, done.Finished).ShouldBe((RunStatus.Failed, "step 'a' failed", true));
    }

    [Fact]
    public void Plan_ADeniedStep_SkipsItsDependents_AndTheRunEndsDenied()
    {
        var plan = Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Succeeded), ("c", StepStatus.Denied), ("e", StepStatus.Succeeded));

        plan.Skipped.ShouldBe([new StepSkip("d", "dependency 'c' was denied")]);
        (plan.Status, plan.Reason).ShouldBe((RunStatus.Denied, "step 'c' denied"));
    }

    [Fact]
    public void Plan_AStepSkippedByRunIf_SkipsItsDependents_ButTheRunSucceeds()
    {
        var plan = Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Skipped), ("c", StepStatus.Succeeded), ("e", StepStatus.Succeeded));

        plan.Skipped.ShouldBe([new StepSkip("d", "dependency 'b' was skipped")]);
        (plan.Status, plan.Reason).ShouldBe((RunStatus.Succeeded, (string?)null));
    }

    [Fact]
    public void Plan_FailedWinsOverDenied_AndEveryFailedStepIsNamed()
    {
        var plan = Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Failed), ("c", StepStatus.Denied), ("e", StepStatus.Failed));

        (plan.Status, plan.Reason).ShouldBe((RunStatus.Failed, "steps 'b', 'e' failed"));
    }

    [Fact]
    public void Plan_ARunThatIsNotRunning_GetsNothingToDo()
    {
        foreach (var status in new[] { RunStatus.WaitingApproval, RunStatus.Denied, RunStatus.Succeeded, RunStatus.RolledBack })
        {
            var plan = RunPlanner.Plan(Diamond, new Dictionary<string, StepStatus>(), status, "why");

            (plan.Ready.Count, plan.Skipped.Count, plan.Status, plan.Reason).ShouldBe((0, 0, status, "why"));
        }
    }

    [Fact]
    public void Plan_DrivenToTheEnd_RunsEveryStepOnceInDependencyOrder()
    {
        // The executor's loop, with every step succeeding at once: each step becomes ready exactly once, after its dependencies.
        var run = RunState.Start("run_1", Diamond, Incident(0.99), "corr", Now);
        var order = new List<string>();
        for (var round = 0; round < 10 && !run.Finished; round++)
        {
            var plan = RunPlanner.Plan(Diamond, run);
            run = RunPlanner.Apply(run, plan, Now);
            foreach (var id in plan.Ready)
            {
                Diamond.Steps.Single(s => s.Id == id).DependsOn.ShouldAllBe(d => order.Contains(d));
                order.Add(id);
                run = run.WithStep(run.Step(id)! with { Status = StepStatus.Succeeded });
            }
        }

        order.ShouldBe(["a", "e", "b", "c", "d"]);
        run.Status.ShouldBe(RunStatus.Succeeded);
    }

    [Fact]
    public void Apply_MarksTheSkippedSteps_AndFinishesTheRun()
    {
        var run = RunState.Start("run_1", Diamond, Incident(0.9), "corr", Now);
        run = run.WithStep(run.Step("a")! with { Status = StepStatus.Failed, Reason = "502 from the platform" })
                 .WithStep(run.Step("e")! with { Status = StepStatus.Succeeded });
        var later = Now.AddSeconds(5);

        var applied = RunPlanner.Apply(run, RunPlanner.Plan(Diamond, run), later);

        applied.Steps.Select(s => (s.Id, s.Status)).ShouldBe(
            [("a", StepStatus.Failed), ("b", StepStatus.Skipped), ("c", StepStatus.Skipped), ("d", StepStatus.Skipped), ("e", StepStatus.Succeeded)]);
        (applied.Step("d")!.Reason, applied.Step("d")!.FinishedAt).ShouldBe(("dependency 'b' was skipped", (DateTimeOffset?)later));
        (applied.Status, applied.Reason, applied.UpdatedAt, applied.Finished).ShouldBe((RunStatus.Failed, "step 'a' failed", later, true));
        RunPlanner.Apply(applied, RunPlanner.Plan(Diamond, applied), later.AddSeconds(1)).ShouldBeSameAs(applied);
    }

    [Fact]
    public void Start_BelowTheAutoThreshold_WaitsForApproval_AtOrAboveItRuns()
    {
        var waiting = RunState.Start("run_1", Diamond, Incident(0.79), "corr", Now);
        var running = RunState.Start("run_2", Diamond, Incident(0.8), "corr", Now);

        (waiting.Status, waiting.Finished).ShouldBe((RunStatus.WaitingApproval, false));
        waiting.Reason.ShouldNotBeNull().ShouldContain("below the auto threshold");
        RunPlanner.Plan(Diamond, waiting).Ready.ShouldBeEmpty();
        (running.Status, running.Reason).ShouldBe((RunStatus.Running, (string?)null));
        running.Steps.ShouldAllBe(s => s.Status == StepStatus.Pending);
        RunState.Start("run_3", Diamond with { DryRun = true }, Incident(0.9), "corr", Now).DryRun.ShouldBeTrue();
        RunState.Start("run_4", Diamond, Incident(0.9), "corr", Now, dryRun: true).DryRun.ShouldBeTrue();
        running.DryRun.ShouldBeFalse();
    }

    [Fact]
    public void ApprovalFor_TheStepsOwn_ElseIrreversibleBelowTheThreshold_ElseNone()
    {
        var (a, c, e) = (Diamond.Steps[0], Diamond.Steps[2], Diamond.Steps[4]);

        RunPlanner.ApprovalFor(Diamond, c, 0.99).ShouldBeSameAs(c.RequiresApproval);
        RunPlanner.ApprovalFor(Diamond, e, 0.94).ShouldBeSameAs(Diamond.Approval);
        RunPlanner.ApprovalFor(Diamond, e, 0.95).ShouldBeNull();
        RunPlanner.ApprovalFor(Diamond, e, 0.5, runApproved: true).ShouldBeNull();
        RunPlanner.ApprovalFor(Diamond, c, 0.5, runApproved: true).ShouldBeSameAs(c.RequiresApproval);
        RunPlanner.ApprovalFor(Diamond, a, 0.5).ShouldBeNull();
    }

    [Fact]
    public void IdempotencyKey_IsThePrefixedLowerHexSha256OfTheThreeLines()
    {
        var key = RunPlanner.IdempotencyKey("run_1", "revoke", "acct_7");

        var expected = "bwk-" + string.Concat(SHA256.HashData(Encoding.UTF8.GetBytes("run_1\nrevoke\nacct_7")).Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
        key.ShouldBe(expected);
        key.Length.ShouldBe(68);
        RunPlanner.IdempotencyKey("run_1", "revoke", "acct_8").ShouldNotBe(key);
        RunPlanner.IdempotencyKey("run_1", "revoke.compensate", "acct_7").ShouldNotBe(key);
    }

    [Fact]
    public void RunState_ReadsBackWhatItWrote()
    {
        var run = RunState.Start("run_1", Diamond, Incident(0.9), "corr-9", Now) with { ApprovalId = "apr_1", Reason = "r" };
        run = run.WithStep(run.Step("a")! with
        {
            Status = StepStatus.Running,
            StartedAt = Now,
            Output = new JsonObject { ["key"] = "SEC-1" },
            Targets =
            [
                new TargetState { Target = "acct_1", Status = StepStatus.Running, IdempotencyKey = RunPlanner.IdempotencyKey("run_1", "a", "acct_1"), Attempts = 2, NextAttemptAt = Now.AddSeconds(3), HttpStatus = 503, Error = "503 Service Unavailable" },
                new TargetState { Target = "acct_2", Status = StepStatus.Succeeded, IdempotencyKey = RunPlanner.IdempotencyKey("run_1", "a", "acct_2"), Attempts = 1, Output = new JsonObject { ["ok"] = true } },
            ],
        }).WithStep(run.Step("e")! with { Status = StepStatus.Skipped, Reason = "run_if was false", FinishedAt = Now });

        var document = run.ToDocument();
        var again = RunState.Read(JsonNode.Parse(document.ToJsonString())!.AsObject());

        CanonicalJson.Serialize(again.ToDocument()).ShouldBe(CanonicalJson.Serialize(document));
        (again.Status, again.ApprovalId, again.CorrelationId, again.Confidence).ShouldBe((RunStatus.Running, "apr_1", "corr-9", 0.9));
        again.Step("a")!.Targets[0].NextAttemptAt.ShouldBe(Now.AddSeconds(3));
        document["status"]!.GetValue<string>().ShouldBe("running");
        document["steps"]![4]!["status"]!.GetValue<string>().ShouldBe("skipped");
    }

    [Fact]
    public void RunState_Read_ABrokenDocument_IsInvalidData()
    {
        Should.Throw<InvalidDataException>(() => RunState.Read(new JsonObject { ["id"] = "run_1" }));
        Should.Throw<InvalidDataException>(() => RunState.Read(JsonNode.Parse("""{"id":"r","playbook":"p","incident_id":"i","correlation_id":"c","confidence":1,"status":"sleeping","steps":[],"created_at":"x","updated_at":"x"}""")!.AsObject()));
    }

    [Fact]
    public void WithStep_AnUnknownStep_Throws()
    {
        var run = RunState.Start("run_1", Diamond, Incident(0.9), "corr", Now);

        Should.Throw<ArgumentException>(() => run.WithStep(new StepState { Id = "ghost", Status = StepStatus.Pending }));
    }

    [Fact]
    public void PersistedEnums_KeepTheirNumbersAndNames()
    {
        Enum.GetValues<RunStatus>().Select(s => (int)s).ShouldBe([1, 2, 3, 4, 5, 6, 7, 8]);
        ResponseNames.RunStatuses.Keys.ShouldBe(["waiting_approval", "running", "succeeded", "failed", "denied", "rolled_back", "rolling_back", "rollback_failed"]);
        ResponseNames.RunStatuses.Values.ShouldBe(Enum.GetValues<RunStatus>());
        Enum.GetValues<StepStatus>().Select(s => (int)s).ShouldBe([1, 2, 3, 4, 5, 6, 7, 8]);
        ResponseNames.StepStatuses.Keys.ShouldBe(["pending", "waiting_approval", "running", "succeeded", "failed", "skipped", "denied", "compensated"]);
        ResponseNames.StepStatuses.Values.ShouldBe(Enum.GetValues<StepStatus>());
        Enum.GetValues<ApprovalStatus>().Select(s => (int)s).ShouldBe([1, 2, 3, 4, 5, 6]);
        ResponseNames.ApprovalStatuses.Keys.ShouldBe(["pending", "escalated", "approved", "denied", "expired", "cancelled"]);
        ResponseNames.ApprovalStatuses.Values.ShouldBe(Enum.GetValues<ApprovalStatus>());
    }
}
