using System.Text.Json.Nodes;
using Bulwark.Identity;
using Bulwark.Response;

namespace Bulwark.Core.Tests.Response;

public sealed class RollbackAndApprovalTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 2, 1, 0, 0, TimeSpan.Zero);

    // a, b and c can be undone; d cannot.
    private static readonly PlaybookDefinition Chain = PlaybookKind.Instance.Read(JsonNode.Parse("""
        {"name":"chain","trigger":{},"steps":[
          {"id":"a","action":"throttle.tighten","compensate":{"action":"throttle.relax"}},
          {"id":"b","action":"flag.kill","compensate":{"action":"flag.set_state"}},
          {"id":"c","action":"throttle.block","for_each":"ips","compensate":{"action":"throttle.unblock"}},
          {"id":"d","action":"evidence.snapshot"}]}
        """)!.AsObject()).Value!;

    private static RunState Run(params StepState[] steps) =>
        RunState.Start("run_1", Chain, RunPlannerTests.Incident(0.9), "inc_1", Now) with { Steps = steps };

    private static StepState Step(string id, StepStatus status, int finishedAfterSeconds, params StepStatus[] targets) => new()
    {
        Id = id,
        Status = status,
        StartedAt = Now,
        FinishedAt = finishedAfterSeconds < 0 ? null : Now.AddSeconds(finishedAfterSeconds),
        Targets = [.. targets.Select((t, i) => new TargetState { Target = $"t{i}", Status = t, IdempotencyKey = RunPlanner.IdempotencyKey("run_1", id, $"t{i}") })],
    };

    [Fact]
    public void RollbackOrder_IsTheReverseOfTheOrderTheStepsFinishedIn_NotOfThePlaybook()
    {
        var run = Run(
            Step("a", StepStatus.Succeeded, 1, StepStatus.Succeeded),
            Step("b", StepStatus.Succeeded, 3, StepStatus.Succeeded),
            Step("c", StepStatus.Succeeded, 2, StepStatus.Succeeded),
            Step("d", StepStatus.Succeeded, 4, StepStatus.Succeeded));

        RunPlanner.RollbackOrder(Chain, run).ShouldBe(["b", "c", "a"]);
    }

    [Fact]
    public void RollbackOrder_StepsThatFinishedTogether_GoInReversePlaybookOrder()
    {
        var run = Run(
            Step("a", StepStatus.Succeeded, 1, StepStatus.Succeeded),
            Step("b", StepStatus.Succeeded, 1, StepStatus.Succeeded),
            Step("c", StepStatus.Succeeded, 1, StepStatus.Succeeded));

        RunPlanner.RollbackOrder(Chain, run).ShouldBe(["c", "b", "a"]);
    }

    [Fact]
    public void RollbackOrder_SkipsWhatHadNoEffect_AndWhatIsCompensated_ButKeepsUnknownOutcomes()
    {
        var run = Run(
            Step("a", StepStatus.Compensated, 1, StepStatus.Succeeded),
            Step("b", StepStatus.Failed, 2, StepStatus.Failed),
            Step("c", StepStatus.Running, -1, StepStatus.Failed, StepStatus.Running),
            Step("d", StepStatus.Succeeded, 3, StepStatus.Succeeded));

        RunPlanner.RollbackOrder(Chain, run).ShouldBe(["c"]);
    }

    [Fact]
    public void Run_WithARollbackAndCompensations_RoundTripsThroughItsDocument()
    {
        var step = Step("c", StepStatus.Compensated, 2, StepStatus.Succeeded) with
        {
            Compensations = [new TargetState { Target = "t0", Status = StepStatus.Succeeded, IdempotencyKey = RunPlanner.IdempotencyKey("run_1", "c.compensate", "t0"), Attempts = 2 }],
        };
        var run = Run(step) with { Status = RunStatus.RolledBack, Rollback = new RollbackRequest("alice", Now.AddMinutes(1), "false positive") };

        var read = RunState.Read(JsonNode.Parse(run.ToDocument().ToJsonString())!.AsObject());

        read.Status.ShouldBe(RunStatus.RolledBack);
        read.Rollback.ShouldBe(run.Rollback);
        read.Steps.Single().Compensations.Single().ShouldBe(step.Compensations[0]);
        read.Finished.ShouldBeTrue();
        (run with { Status = RunStatus.RollingBack }).Finished.ShouldBeFalse();
    }

    [Fact]
    public void StepWithCall_ReplacesOneCallOfOneLane()
    {
        var step = Step("c", StepStatus.Succeeded, 2, StepStatus.Succeeded, StepStatus.Succeeded) with
        {
            Compensations = [new TargetState { Target = "t1", Status = StepStatus.Pending, IdempotencyKey = "k" }],
        };

        var changed = step.WithCall(new TargetState { Target = "t1", Status = StepStatus.Succeeded, IdempotencyKey = "k" }, compensation: true);

        changed.Compensations.Single().Status.ShouldBe(StepStatus.Succeeded);
        changed.Targets.ShouldBe(step.Targets);
        changed.Calls(compensation: false).ShouldBe(step.Targets);
    }

    private static readonly ApprovalRequirement Escalating = new([Role.Responder], TimeSpan.FromMinutes(15), ApprovalExpiry.Escalate, [Role.Approver]);

    private static Approval Ask(ApprovalRequirement requirement) =>
        Approval.Ask("apr_1", Run(), "b", requirement, "Kill the flag?", Now);

    [Fact]
    public void Approval_MayBeAnsweredByItsRolesOrAnAdmin_Only()
    {
        var approval = Ask(Escalating);

        approval.MayAnswer([Role.Responder]).ShouldBeTrue();
        approval.MayAnswer([Role.Admin]).ShouldBeTrue();
        approval.MayAnswer([Role.Viewer, Role.Operator]).ShouldBeFalse();
        approval.MayAnswer([Role.Approver]).ShouldBeFalse();
        approval.ExpiresAt.ShouldBe(Now.AddMinutes(15));
    }

    [Fact]
    public void Approval_Escalates_Once_ToItsEscalationRoles_ThenExpires()
    {
        var escalated = Ask(Escalating).Expire(Now.AddMinutes(15));

        escalated.Status.ShouldBe(ApprovalStatus.Escalated);
        escalated.Open.ShouldBeTrue();
        escalated.ExpiresAt.ShouldBe(Now.AddMinutes(30));
        escalated.MayAnswer([Role.Approver]).ShouldBeTrue();
        escalated.MayAnswer([Role.Responder]).ShouldBeFalse();
        Should.Throw<InvalidOperationException>(() => escalated.Expire(Now.AddMinutes(29)));

        var expired = escalated.Expire(Now.AddMinutes(30));
        expired.Status.ShouldBe(ApprovalStatus.Expired);
        expired.Open.ShouldBeFalse();
        expired.AnsweredBy.ShouldBe(Approval.SystemActor);
        expired.Refusal!.ShouldContain("after the escalation");
    }

    [Fact]
    public void Approval_ThatDeniesAtExpiry_ExpiresAtOnce()
    {
        var expired = Ask(Escalating with { OnExpiry = ApprovalExpiry.Deny, EscalateTo = [] }).Expire(Now.AddHours(1));

        expired.Status.ShouldBe(ApprovalStatus.Expired);
        expired.Refusal!.ShouldStartWith("approval expired");
    }

    [Fact]
    public void Approval_IsAnsweredOnce_AndKeepsWhoAnsweredAndWhy()
    {
        var denied = Ask(Escalating).Answer(approve: false, "bob", "not this account", Now.AddMinutes(1));

        (denied.Status, denied.AnsweredBy, denied.AnsweredAt).ShouldBe((ApprovalStatus.Denied, "bob", Now.AddMinutes(1)));
        denied.Refusal.ShouldBe("denied by bob: not this account");
        Should.Throw<InvalidOperationException>(() => denied.Answer(approve: true, "carol", null, Now.AddMinutes(2)));
        Should.Throw<InvalidOperationException>(() => denied.Cancel("rolled back", Now.AddMinutes(2)));
        Ask(Escalating).Answer(approve: true, "carol", null, Now).Refusal.ShouldBeNull();
    }

    [Fact]
    public void Approval_RoundTripsThroughTheStore()
    {
        var escalated = Ask(Escalating).Expire(Now.AddMinutes(15)).Answer(approve: true, "dana", "ok", Now.AddMinutes(16));
        var stored = escalated.ToStored();

        var read = Approval.Read(stored with { Document = JsonNode.Parse(stored.Document.ToJsonString())!.AsObject() });

        read.ShouldBe(escalated with { Requirement = read.Requirement });
        read.Requirement.Roles.ShouldBe(Escalating.Roles);
        read.Requirement.EscalateTo.ShouldBe(Escalating.EscalateTo);
        (read.Requirement.Ttl, read.Requirement.OnExpiry).ShouldBe((Escalating.Ttl, Escalating.OnExpiry));
        stored.Status.ShouldBe("approved");
    }
}

public sealed class OnFailureTests
{
    private static readonly PlaybookDefinition WithOnFailure = PlaybookKind.Instance.Read(JsonNode.Parse("""
        {"name":"p","trigger":{},"steps":[
          {"id":"a","action":"throttle.tighten","compensate":{"action":"throttle.relax"}},
          {"id":"b","action":"flag.kill","depends_on":["a"]}],
         "on_failure":[{"id":"tell","action":"notify.slack","connector":"slack","with":{"text":"run {{run.id}} failed"}}]}
        """)!.AsObject()).Value!;

    private static RunPlan Plan(params (string Id, StepStatus Status)[] steps) => RunPlanner.Plan(WithOnFailure, steps.ToDictionary(s => s.Id, s => s.Status));

    [Fact]
    public void OnFailureSteps_WaitForTheMainSteps_ThenRunOnlyIfOneFailed()
    {
        Plan().Ready.ShouldBe(["a"]);
        Plan(("a", StepStatus.Failed)).ShouldSatisfyAllConditions(
            p => p.Ready.ShouldBe(["tell"]),
            p => p.Status.ShouldBe(RunStatus.Running),
            p => p.Skipped.Single().StepId.ShouldBe("b"));
        Plan(("a", StepStatus.Failed), ("b", StepStatus.Skipped), ("tell", StepStatus.Running)).Status.ShouldBe(RunStatus.Running);
        var over = Plan(("a", StepStatus.Failed), ("b", StepStatus.Skipped), ("tell", StepStatus.Failed));
        (over.Status, over.Reason).ShouldBe((RunStatus.Failed, "step 'a' failed"));
    }

    [Fact]
    public void OnFailureSteps_AreSkipped_WhenTheRunDidNotFail()
    {
        var plan = Plan(("a", StepStatus.Succeeded), ("b", StepStatus.Succeeded));

        plan.Status.ShouldBe(RunStatus.Succeeded);
        plan.Skipped.ShouldBe([new StepSkip("tell", "the run did not fail")]);
    }

    [Fact]
    public void ARun_HasAStateForEveryStep_IncludingOnFailure()
    {
        RunState.Start("run_1", WithOnFailure, RunPlannerTests.Incident(0.9), "inc_1", DateTimeOffset.UnixEpoch).Steps.Select(s => s.Id).ShouldBe(["a", "b", "tell"]);
        CompiledPlaybook.Compile(WithOnFailure).Step("tell").Step.Action.ShouldBe("notify.slack");
    }

    [Theory]
    [InlineData("""{"id":"tell","action":"notify.slack","connector":"slack","depends_on":["a"]}""", "/on_failure/0/depends_on")]
    [InlineData("""{"id":"tell","action":"platform.suspend","connector":"p","for_each":"accounts","compensate":{"action":"platform.unsuspend"}}""", "/on_failure/0/compensate")]
    [InlineData("""{"id":"a","action":"notify.slack","connector":"slack"}""", "/on_failure/0/id")]
    [InlineData("""{"id":"tell","action":"notify.slack","connector":"slack","with":{"text":"{{steps.nope.output}}"}}""", "/on_failure/0/with/text")]
    public void AnInvalidOnFailureStep_IsRefusedWithItsPath(string step, string path)
    {
        var result = PlaybookKind.Instance.Read(JsonNode.Parse($$"""{"name":"p","trigger":{},"steps":[{"id":"a","action":"throttle.tighten"}],"on_failure":[{{step}}]}""")!.AsObject());

        result.Errors.Select(e => e.Path).ShouldContain(path);
    }
}
