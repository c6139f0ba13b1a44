using Bulwark.Audit;
using Bulwark.Detection.Incidents;
using Bulwark.Flags;
using Bulwark.Identity;
using Bulwark.MassActions;
using Bulwark.Response;
using Bulwark.Storage;
using Bulwark.Throttling;
using Shouldly;

namespace Bulwark.TestUtils;

/// <summary>
/// The behaviour every <see cref="IControlStore"/> adapter must have. Subclass it once per adapter (SQLite now,
/// PostgreSQL later) and implement <see cref="OpenStoreAsync"/>; the tests run unchanged.
/// </summary>
public abstract class ControlStoreContract : IAsyncLifetime
{
    private readonly List<IControlStore> _opened = [];

    protected FakeTimeProvider Time { get; } = new();

    /// <summary>Opens (and migrates) a store over the adapter's fixture storage; a second call reopens the same data.</summary>
    protected abstract Task<IControlStore> OpenStoreCoreAsync(TimeProvider time);

    public virtual ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public virtual async ValueTask DisposeAsync()
    {
        foreach (var store in _opened)
        {
            await store.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }

    protected async Task<IControlStore> OpenStoreAsync()
    {
        var store = await OpenStoreCoreAsync(Time);
        _opened.Add(store);
        return store;
    }

    protected static IdentityRecord Identity(string name, DateTimeOffset at, params Role[] roles) =>
        new() { Name = name, Roles = roles, Description = "d-" + name, CreatedAt = at, UpdatedAt = at };

    protected static AuditDraft Draft(string target) => new() { Actor = "tester", Action = "test.change", Target = target, After = "{\"x\":1}", CorrelationId = "c-1" };

    [Fact]
    public async Task MigrateAsync_CalledAgain_KeepsVersionAndIsReady()
    {
        var store = await OpenStoreAsync();
        var version = await store.MigrateAsync();
        (await store.MigrateAsync()).ShouldBe(version);
        store.IsReady.ShouldBeTrue();
    }

    [Fact]
    public async Task WriteAsync_PutIdentityWithAudit_IsReadBackExactly()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow().AddTicks(1234567);
        await store.WriteAsync(tx => { tx.PutIdentity(Identity("alice", at, Role.Operator, Role.Approver)); return tx.Append(Draft("identity/alice")); });

        var read = await store.GetIdentityAsync("alice");
        read.ShouldNotBeNull();
        read.Roles.ShouldBe([Role.Operator, Role.Approver]);
        read.Description.ShouldBe("d-alice");
        read.CreatedAt.ShouldBe(AuditChain.Truncate(at));
        (await store.ListIdentitiesAsync()).Select(i => i.Name).ShouldBe(["alice"]);
        (await store.GetIdentityAsync("nobody")).ShouldBeNull();
    }

    [Fact]
    public async Task WriteAsync_StateChangeWithoutAuditEntry_IsRolledBackAndThrows()
    {
        var store = await OpenStoreAsync();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => { tx.PutIdentity(Identity("sneaky", Time.GetUtcNow())); return 0; }));

        (await store.GetIdentityAsync("sneaky")).ShouldBeNull();
        (await store.ReadAuditAsync(0, 10)).ShouldBeEmpty();
    }

    [Fact]
    public async Task WriteAsync_WorkThrowsAfterWriting_KeepsNothingOfIt()
    {
        var store = await OpenStoreAsync();
        await Should.ThrowAsync<InvalidDataException>(() => store.WriteAsync<int>(tx =>
        {
            tx.PutIdentity(Identity("half", Time.GetUtcNow()));
            tx.Append(Draft("identity/half"));
            throw new InvalidDataException("changed my mind");
        }));

        (await store.GetIdentityAsync("half")).ShouldBeNull();
        (await store.ReadAuditAsync(0, 10)).ShouldBeEmpty();
        (await store.GetRecordedAuditHeadAsync()).ShouldBe(AuditHead.Empty);
    }

    [Fact]
    public async Task WriteAsync_ManyConcurrentWritersWithSomeFailing_CommitsTheRestAsOneIntactChain()
    {
        var store = await OpenStoreAsync();
        var writes = Enumerable.Range(0, 400).Select(i => store.WriteAsync(tx =>
        {
            tx.PutIdentity(Identity($"user-{i:D3}", tx.Now));
            tx.Append(Draft($"identity/user-{i:D3}"));
            if (i % 10 == 0)
            {
                throw new InvalidOperationException("refused " + i);
            }

            return i;
        })).ToList();

        foreach (var (write, i) in writes.Select((w, i) => (w, i)))
        {
            if (i % 10 == 0)
            {
                await Should.ThrowAsync<InvalidOperationException>(() => write);
            }
            else
            {
                (await write).ShouldBe(i);
            }
        }

        (await store.ListIdentitiesAsync()).Count.ShouldBe(360);
        var entries = await store.ReadAuditAsync(0, 1000);
        entries.Count.ShouldBe(360);
        entries.Select(e => e.Seq).ShouldBe(Enumerable.Range(1, 360).Select(i => (long)i));
        var verifier = new AuditVerifier();
        foreach (var entry in entries)
        {
            verifier.Add(entry);
        }

        verifier.Complete(await store.GetRecordedAuditHeadAsync()).Ok.ShouldBeTrue();
    }

    [Fact]
    public async Task WriteTransaction_ReadsItsOwnWrites()
    {
        var store = await OpenStoreAsync();
        var seen = await store.WriteAsync(tx =>
        {
            tx.PutIdentity(Identity("self", tx.Now, Role.Viewer));
            tx.Append(Draft("identity/self"));
            return (tx.GetIdentity("self")?.Name, tx.ListIdentities().Count);
        });

        seen.ShouldBe(("self", 1));
    }

    [Fact]
    public async Task Tokens_InsertFindRevoke_BehaveAndDeleteIdentityRevokesAll()
    {
        var store = await OpenStoreAsync();
        var hash = Tokens.Hash("bwk_contract-token");
        await store.WriteAsync(tx =>
        {
            tx.PutIdentity(Identity("svc", tx.Now, Role.Viewer));
            tx.InsertToken(new TokenRecord { Id = "tk_1", Identity = "svc", Hash = hash, Label = "one", CreatedAt = tx.Now });
            tx.InsertToken(new TokenRecord { Id = "tk_2", Identity = "svc", Hash = Tokens.Hash("other"), CreatedAt = tx.Now });
            return tx.Append(Draft("identity/svc"));
        });

        var found = await store.FindTokenAsync(hash);
        found.ShouldNotBeNull();
        found.Id.ShouldBe("tk_1");
        found.Label.ShouldBe("one");
        found.Hash.ShouldBe(hash);
        found.IsActive.ShouldBeTrue();
        (await store.FindTokenAsync(Tokens.Hash("nope"))).ShouldBeNull();

        var revoked = await store.WriteAsync(tx => (tx.RevokeToken("tk_1", tx.Now), tx.RevokeToken("tk_1", tx.Now), tx.Append(Draft("token/tk_1"))).Item1 ? 1 : 0);
        revoked.ShouldBe(1);
        (await store.FindTokenAsync(hash))!.IsActive.ShouldBeFalse();

        await store.WriteAsync(tx => { tx.DeleteIdentity("svc"); return tx.Append(Draft("identity/svc")); });
        (await store.GetIdentityAsync("svc")).ShouldBeNull();
        (await store.ListTokensAsync("svc")).ShouldAllBe(t => !t.IsActive);
        (await store.ListTokensAsync()).Count.ShouldBe(2);
    }

    [Fact]
    public async Task ReadAuditAsync_PagesInSequenceOrder_AndRecordedHeadFollowsAppends()
    {
        var store = await OpenStoreAsync();
        for (var i = 0; i < 25; i++)
        {
            Time.Advance(TimeSpan.FromSeconds(1));
            await store.WriteAsync(tx => tx.Append(Draft("thing/" + i)));
        }

        var first = await store.ReadAuditAsync(0, 10);
        var second = await store.ReadAuditAsync(first[^1].Seq, 10);
        var last = await store.ReadAuditAsync(second[^1].Seq, 10);
        first.Concat(second).Concat(last).Select(e => e.Seq).ShouldBe(Enumerable.Range(1, 25).Select(i => (long)i));
        first[0].PrevHash.ShouldBe(AuditChain.GenesisHash);
        second[0].PrevHash.ShouldBe(first[^1].Hash);
        last[^1].Time.ShouldBe(AuditChain.Truncate(Time.GetUtcNow()));
        (await store.GetRecordedAuditHeadAsync()).ShouldBe(new AuditHead(25, last[^1].Hash));
    }

    [Fact]
    public async Task ScanAuditAsync_WhileWritesLand_AlwaysSeesAConsistentSnapshot()
    {
        var store = await OpenStoreAsync();
        var writes = Enumerable.Range(0, 600).Select(i => store.WriteAsync(tx => tx.Append(Draft("busy/" + i)))).ToList();
        var scans = 0;
        while (writes.Any(w => !w.IsCompleted) || scans < 3)
        {
            var verifier = new AuditVerifier();
            var head = await store.ScanAuditAsync(verifier.Add);
            var result = verifier.Complete(head);
            result.Ok.ShouldBeTrue(result.Problem);
            result.Entries.ShouldBe(head.Seq);
            scans++;
        }

        await Task.WhenAll(writes);
        (await store.GetRecordedAuditHeadAsync()).Seq.ShouldBe(600);
    }

    protected static FlagDefinition FlagDefinition(string key) => new()
    {
        Key = key,
        Type = FlagType.Release,
        Owner = "team",
        Purpose = "contract test",
        Expires = new DateOnly(2027, 1, 31),
        Cohorts = [new Cohort { Name = "staff", Allow = ["u-1"], Rules = [new CohortRule { Attribute = "plan", Operator = RuleOperator.In, Values = ["pro", "team"] }] }],
        CanaryMaxMillipercent = 2500,
    };

    [Fact]
    public async Task Flags_PutAdvancesTheSnapshotVersion_AndReadBackExactly()
    {
        var store = await OpenStoreAsync();
        (await store.ListFlagsAsync()).Version.ShouldBe(0);

        var first = await store.WriteAsync(tx =>
        {
            var version = tx.PutFlag(new FlagRecord { Definition = FlagDefinition("a"), Status = FlagStatus.Off, Version = 0, CreatedAt = tx.Now, UpdatedAt = tx.Now });
            tx.Append(Draft("flag/a"));
            return version;
        });
        var second = await store.WriteAsync(tx =>
        {
            var version = tx.PutFlag(new FlagRecord { Definition = FlagDefinition("b"), Status = new FlagStatus(FlagState.Gradual, 12_345), Version = 0, CreatedAt = tx.Now, UpdatedAt = tx.Now });
            tx.Append(Draft("flag/b"));
            return version;
        });
        var third = await store.WriteAsync(tx =>
        {
            var a = tx.GetFlag("a")!;
            var version = tx.PutFlag(a with { Status = new FlagStatus(FlagState.EmergencyOff, 0), UpdatedAt = tx.Now });
            tx.Append(Draft("flag/a"));
            return version;
        });

        (first, second, third).ShouldBe((1L, 2L, 3L));
        var (flags, snapshot) = await store.ListFlagsAsync();
        snapshot.ShouldBe(3);
        flags.Select(f => (f.Key, f.Status, f.Version)).ShouldBe([("a", new FlagStatus(FlagState.EmergencyOff, 0), 3L), ("b", new FlagStatus(FlagState.Gradual, 12_345), 2L)]);
        var b = (await store.GetFlagAsync("b"))!;
        Bulwark.Json.CanonicalJson.Serialize(FlagKind.Instance.ToDocument(b.Definition))
            .ShouldBe(Bulwark.Json.CanonicalJson.Serialize(FlagKind.Instance.ToDocument(FlagDefinition("b"))));
        (await store.GetFlagAsync("missing")).ShouldBeNull();
    }

    [Fact]
    public async Task Sources_PutAdvancesTheirVersion_AndReadBackExactly()
    {
        var store = await OpenStoreAsync();
        var definition = new Bulwark.Ingest.SourceDefinition
        {
            Name = "okta-main",
            Scheme = "okta",
            Secrets = [new Bulwark.Ingest.SecretReference("env", "OKTA_NEW"), new Bulwark.Ingest.SecretReference("file", "/run/secrets/okta-old")],
            Normalizer = "okta",
            DedupeRetention = TimeSpan.FromHours(24),
            Poll = new Bulwark.Ingest.SourcePoll { Url = new Uri("https://example.okta.com/api/v1/logs"), Interval = TimeSpan.FromMinutes(2) },
        };
        var first = await store.WriteAsync(tx =>
        {
            var version = tx.PutSource(new Bulwark.Ingest.SourceRecord { Definition = definition, Version = 0, CreatedAt = tx.Now, UpdatedAt = tx.Now });
            tx.Append(Draft("source/okta-main"));
            return version;
        });
        var second = await store.WriteAsync(tx =>
        {
            var current = tx.GetSource("okta-main")!;
            var version = tx.PutSource(current with { Definition = current.Definition with { MaxBody = 4096 }, UpdatedAt = tx.Now });
            tx.Append(Draft("source/okta-main"));
            return version;
        });

        (first, second).ShouldBe((1L, 2L));
        var (sources, version) = await store.ListSourcesAsync();
        version.ShouldBe(2);
        var stored = sources.ShouldHaveSingleItem();
        stored.Version.ShouldBe(2);
        Bulwark.Json.CanonicalJson.Serialize(Bulwark.Ingest.SourceKind.Instance.ToDocument(stored.Definition))
            .ShouldBe(Bulwark.Json.CanonicalJson.Serialize(Bulwark.Ingest.SourceKind.Instance.ToDocument(definition with { MaxBody = 4096 })));
        (await store.GetSourceAsync("missing")).ShouldBeNull();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.PutSource(stored)));
        (await store.ListSourcesAsync()).Version.ShouldBe(2);
    }

    [Fact]
    public async Task Throttles_PutAdvancesTheirVersion_KeepTheTightening_AndReadBackExactly()
    {
        var store = await OpenStoreAsync();
        var policy = new ThrottlePolicy
        {
            Name = "reset",
            Layers = [new ThrottleLayer { Name = "ip", Key = "ip", Limit = 10, Per = TimeSpan.FromMinutes(1), Burst = 5 }],
            Escalation = new ThrottleEscalation { Window = TimeSpan.FromMinutes(10), ChallengeAfter = 3, BlockFor = TimeSpan.FromHours(1) },
            Shadow = true,
        };
        var first = await store.WriteAsync(tx =>
        {
            var version = tx.PutThrottle(new ThrottleRecord { Policy = policy, Version = 0, CreatedAt = tx.Now, UpdatedAt = tx.Now });
            tx.Append(Draft("throttle/reset"));
            return version;
        });
        var until = new DateTimeOffset(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);
        var second = await store.WriteAsync(tx =>
        {
            var current = tx.GetThrottle("reset")!;
            var tightening = new ThrottleTighteningRecord(new ThrottleTightening(5, ["ip"], until), "oncall", "reset wave", tx.Now);
            var version = tx.PutThrottle(current with { Tightening = tightening, UpdatedAt = tx.Now });
            tx.Append(Draft("throttle/reset"));
            return version;
        });

        (first, second).ShouldBe((1L, 2L));
        (await store.ListFlagsAsync()).Version.ShouldBe(0);
        var (throttles, version) = await store.ListThrottlesAsync();
        version.ShouldBe(2);
        var stored = throttles.ShouldHaveSingleItem();
        (stored.Name, stored.Version, stored.Policy.Shadow, stored.Policy.Escalation).ShouldBe(("reset", 2L, true, policy.Escalation));
        stored.Policy.Layers.ShouldBe(policy.Layers);
        var tightened = stored.Tightening!;
        (tightened.Tightening.Factor, tightened.Tightening.Until, tightened.By, tightened.Reason).ShouldBe((5d, until, "oncall", "reset wave"));
        tightened.Tightening.Layers.ShouldBe(["ip"]);
        (await store.GetThrottleAsync("reset"))!.Version.ShouldBe(2);
        (await store.GetThrottleAsync("missing")).ShouldBeNull();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.PutThrottle(stored with { Tightening = null })));
        (await store.ListThrottlesAsync()).Version.ShouldBe(2);
    }

    [Fact]
    public async Task Flags_UnauditedPut_IsRolledBackAndTheVersionDoesNotMove()
    {
        var store = await OpenStoreAsync();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx =>
            tx.PutFlag(new FlagRecord { Definition = FlagDefinition("sneaky"), Status = FlagStatus.Off, Version = 0, CreatedAt = tx.Now, UpdatedAt = tx.Now })));

        var (flags, version) = await store.ListFlagsAsync();
        flags.ShouldBeEmpty();
        version.ShouldBe(0);
    }

    [Fact]
    public async Task Changes_PutDecideAndListByStatus()
    {
        var store = await OpenStoreAsync();
        var now = Time.GetUtcNow();
        var change = new PendingChange
        {
            Id = "ch_1",
            FlagKey = "a",
            From = FlagStatus.Off,
            To = new FlagStatus(FlagState.Global, 0),
            RequestedBy = "alice",
            Reason = "launch",
            CreatedAt = now,
            ExpiresAt = now.AddHours(24),
            Status = ChangeStatus.Pending,
        };
        await store.WriteAsync(tx => { tx.PutChange(change); return tx.Append(Draft("change/ch_1")); });
        await store.WriteAsync(tx => { tx.PutChange(change with { Id = "ch_2", CreatedAt = now.AddMinutes(1) }); return tx.Append(Draft("change/ch_2")); });
        await store.WriteAsync(tx =>
        {
            tx.PutChange(tx.GetChange("ch_1")! with { Status = ChangeStatus.Approved, DecidedBy = "bob", DecidedAt = tx.Now });
            return tx.Append(Draft("change/ch_1"));
        });

        var approved = (await store.GetChangeAsync("ch_1"))!;
        approved.ShouldBeEquivalentTo(change with { Status = ChangeStatus.Approved, DecidedBy = "bob", DecidedAt = AuditChain.Truncate(now), CreatedAt = AuditChain.Truncate(now), ExpiresAt = AuditChain.Truncate(now.AddHours(24)) });
        (await store.ListChangesAsync(ChangeStatus.Pending)).Select(c => c.Id).ShouldBe(["ch_2"]);
        (await store.ListChangesAsync()).Select(c => c.Id).ShouldBe(["ch_2", "ch_1"]);
        (await store.GetChangeAsync("nope")).ShouldBeNull();
    }

    [Fact]
    public async Task MassActions_PutFindByIdOrName_CountersWithoutAudit_AndSurviveReopen()
    {
        var store = await OpenStoreAsync();
        var now = Time.GetUtcNow();
        var definition = new MassActionDefinition
        {
            Name = "reset-nov",
            Action = "password-reset",
            Flag = "bulk-reset",
            Throttle = "reset",
            AudienceSize = 20_000,
            MaxPerMinute = 600,
            Breaker = new MassActionBreaker { MaxFailureRatio = 0.1, MinSamples = 50 },
            Workers = ["worker-a"],
        };
        var action = new MassActionRecord
        {
            Id = "ma_0000000000000001",
            Definition = definition,
            State = MassActionState.PendingApproval,
            CreatedBy = "alice",
            CreatedAt = now,
            UpdatedAt = now,
            Approval = new MassActionApproval(MassActionApprovalKind.Start, "alice", "november resets", now),
        };
        await store.WriteAsync(tx => { tx.PutMassAction(action); return tx.Append(Draft("mass_action/ma_0000000000000001")); });
        await store.WriteAsync(tx => { tx.PutMassAction(action with { Id = "ma_0000000000000002", Definition = definition with { Name = "later" }, CreatedAt = now.AddMinutes(1) }); return tx.Append(Draft("mass_action/ma_0000000000000002")); });
        var halt = new MassActionHalt(MassActionHaltCause.Breaker, "breaker: 9 of 50 failed", "system:breaker", now.AddMinutes(2));
        await store.WriteAsync(tx =>
        {
            tx.PutMassAction(tx.GetMassAction("reset-nov")! with { State = MassActionState.Halted, Approval = null, ApprovedBy = "bob", ApprovedAt = now, Halt = halt, UpdatedAt = halt.At });
            return tx.Append(Draft("mass_action/ma_0000000000000001"));
        });
        var progress = new MassActionProgress
        {
            Granted = 120,
            Succeeded = 100,
            Failed = 9,
            WindowSucceeded = 41,
            WindowFailed = 9,
            Errors = new Dictionary<string, long>(StringComparer.Ordinal) { ["smtp_timeout"] = 7, ["bounced"] = 2 },
            CapTat = now.UtcTicks + 12345,
        };

        // Counters are not a state change: no audit entry is needed, and nothing else of the row moves.
        (await store.WriteAsync(tx => tx.PutMassActionProgress("ma_0000000000000001", progress))).ShouldBeTrue();
        (await store.WriteAsync(tx => tx.PutMassActionProgress("ma_absent", progress))).ShouldBeFalse();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => { tx.PutMassAction(action with { State = MassActionState.Running }); return 0; }));

        await store.DisposeAsync();
        _opened.Remove(store);
        var reopened = await OpenStoreAsync();
        var read = (await reopened.GetMassActionAsync("ma_0000000000000001"))!;
        var byName = (await reopened.GetMassActionAsync("reset-nov"))!;
        byName.Id.ShouldBe(read.Id);
        (read.State, read.CreatedBy, read.ApprovedBy, read.ApprovedAt, read.Approval, read.Halt).ShouldBe((MassActionState.Halted, "alice", "bob", AuditChain.Truncate(now), null, halt with { At = AuditChain.Truncate(halt.At) }));
        Json.CanonicalJson.Serialize(MassActionKind.Instance.ToDocument(read.Definition)).ShouldBe(Json.CanonicalJson.Serialize(MassActionKind.Instance.ToDocument(definition)));
        read.Definition.Workers.ShouldBe(["worker-a"]);
        read.Progress.Errors.OrderBy(e => e.Key).ShouldBe(progress.Errors.OrderBy(e => e.Key));
        read.Progress.ShouldBeEquivalentTo(progress with { Errors = read.Progress.Errors });
        var other = (await reopened.GetMassActionAsync("later"))!;
        other.Approval.ShouldBe(action.Approval! with { At = AuditChain.Truncate(now) });
        (await reopened.ListMassActionsAsync()).Select(a => a.Name).ShouldBe(["later", "reset-nov"]);
        (await reopened.GetMassActionAsync("ma_absent")).ShouldBeNull();
        (await reopened.ReadAuditAsync(0, 10)).Count.ShouldBe(3);
    }

    [Fact]
    public async Task FindLastAudit_FindsTheNewestEntryWithTheTargetAndAction()
    {
        var store = await OpenStoreAsync();
        AuditDraft Entry(string target, string action, string reason) => Draft(target) with { Action = action, Reason = reason };
        await store.WriteAsync(tx => tx.Append(Entry("flag/a", "flag.state", "first")));
        await store.WriteAsync(tx => tx.Append(Entry("flag/b", "flag.state", "other flag")));
        await store.WriteAsync(tx => tx.Append(Entry("flag/a", "flag.state", "second")));
        await store.WriteAsync(tx => tx.Append(Entry("flag/a", "flag.update", "not a state change")));

        var found = await store.WriteAsync(tx => (tx.FindLastAudit("flag/a", "flag.state"), tx.FindLastAudit("flag/c", "flag.state")));

        (found.Item1!.Seq, found.Item1.Reason, found.Item1.Target).ShouldBe((3L, "second", "flag/a"));
        found.Item2.ShouldBeNull();
    }

    [Fact]
    public async Task Idempotency_PutGetAndExpire()
    {
        var store = await OpenStoreAsync();
        var record = new IdempotencyRecord
        {
            Scope = "alice",
            Key = "k-1",
            Fingerprint = "abc",
            Status = 201,
            ContentType = "application/json",
            Location = "/v1/x",
            Body = [1, 2, 3],
            CreatedAt = Time.GetUtcNow(),
        };
        await store.WriteAsync(tx => { tx.PutIdempotency(record); return 0; });

        var read = await store.GetIdempotencyAsync("alice", "k-1");
        read.ShouldNotBeNull();
        read.ShouldBeEquivalentTo(record with { CreatedAt = AuditChain.Truncate(record.CreatedAt) });
        (await store.GetIdempotencyAsync("bob", "k-1")).ShouldBeNull();

        Time.Advance(TimeSpan.FromHours(25));
        var deleted = await store.WriteAsync(tx => tx.DeleteIdempotencyBefore(tx.Now - TimeSpan.FromHours(24)));
        deleted.ShouldBe(1);
        (await store.GetIdempotencyAsync("alice", "k-1")).ShouldBeNull();
    }

    private static DetectionRecord StoredDetection(string id, string rule, string? incident, DateTimeOffset at) => new()
    {
        Id = id,
        Origin = DetectionOrigin.Rule,
        Rule = rule,
        Severity = Severity.High,
        Confidence = 0.7,
        Group = "account_id=acct_1",
        Accounts = ["acct_1"],
        Ips = ["192.0.2.1"],
        Platforms = ["x"],
        EventIds = ["evt_1", "evt_2"],
        EventCount = 2,
        FirstEventAt = at,
        DetectedEventAt = at.AddSeconds(30),
        CreatedAt = AuditChain.Truncate(at),
        Explanation = "2 resets from 2 IPs (threshold 2)",
        IncidentId = incident,
    };

    private static IncidentRecord StoredIncident(string id, IncidentStatus status, Severity severity, DateTimeOffset at) => new()
    {
        Id = id,
        Title = "r on acct_1",
        Kind = IncidentKind.Account,
        Status = status,
        Severity = severity,
        Confidence = 0.7,
        Accounts = ["acct_1"],
        Rules = ["r"],
        DetectionIds = ["det_1"],
        FirstEventAt = at,
        DetectedEventAt = at,
        LastEventAt = at,
        CreatedAt = AuditChain.Truncate(at),
        UpdatedAt = AuditChain.Truncate(at),
    };

    [Fact]
    public async Task InsertDetection_SameIdTwice_StoresTheFirstOnly_AndOnlyTheInsertIsAStateChange()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        var first = StoredDetection("det_1", "r", "inc_1", at);

        var inserted = await store.WriteAsync(tx => (tx.InsertDetection(first), tx.Append(Draft("detection/det_1"))).Item1);
        var again = await store.WriteAsync(tx => tx.InsertDetection(first with { Rule = "other" }));

        inserted.ShouldBeTrue();
        again.ShouldBeFalse();
        var listed = (await store.ListDetectionsAsync(new DetectionQuery())).ShouldHaveSingleItem();
        listed.Value.ToDocument().ToJsonString().ShouldBe(first.ToDocument().ToJsonString());
        (await store.WriteAsync(tx => tx.GetDetection("det_1")))!.Rule.ShouldBe("r");
        (await store.WriteAsync(tx => tx.GetDetection("det_2"))).ShouldBeNull();
    }

    [Fact]
    public async Task InsertDetection_WithoutAnAuditEntry_IsRolledBack()
    {
        var store = await OpenStoreAsync();

        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.InsertDetection(StoredDetection("det_1", "r", null, Time.GetUtcNow()))));

        (await store.ListDetectionsAsync(new DetectionQuery())).ShouldBeEmpty();
    }

    [Fact]
    public async Task ListDetections_FiltersByIncidentAndRule_NewestFirst_PagedByPosition()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        await store.WriteAsync(tx =>
        {
            tx.InsertDetection(StoredDetection("det_1", "a", "inc_1", at));
            tx.InsertDetection(StoredDetection("det_2", "b", "inc_1", at));
            tx.InsertDetection(StoredDetection("det_3", "a", "inc_2", at));
            tx.InsertDetection(StoredDetection("det_4", "a", "inc_1", at));
            return tx.Append(Draft("detections"));
        });

        var page = await store.ListDetectionsAsync(new DetectionQuery(Limit: 2));
        var next = await store.ListDetectionsAsync(new DetectionQuery(Before: page[^1].Seq, Limit: 2));

        page.Select(d => d.Value.Id).ShouldBe(["det_4", "det_3"]);
        next.Select(d => d.Value.Id).ShouldBe(["det_2", "det_1"]);
        (await store.ListDetectionsAsync(new DetectionQuery(IncidentId: "inc_1"))).Select(d => d.Value.Id).ShouldBe(["det_4", "det_2", "det_1"]);
        (await store.ListDetectionsAsync(new DetectionQuery(IncidentId: "inc_1", Rule: "a"))).Select(d => d.Value.Id).ShouldBe(["det_4", "det_1"]);
    }

    [Fact]
    public async Task PutIncident_InsertsThenReplaces_KeepingItsPosition_AndListsFilterByStatusAndSeverity()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        await store.WriteAsync(tx =>
        {
            tx.PutIncident(StoredIncident("inc_1", IncidentStatus.Open, Severity.High, at));
            tx.PutIncident(StoredIncident("inc_2", IncidentStatus.Open, Severity.Medium, at));
            tx.PutIncident(StoredIncident("inc_3", IncidentStatus.Open, Severity.High, at));
            return tx.Append(Draft("incidents"));
        });
        var before = await store.ListIncidentsAsync(new IncidentQuery());

        var resolved = StoredIncident("inc_1", IncidentStatus.Resolved, Severity.High, at) with
        {
            Resolution = new IncidentResolution(IncidentVerdict.TruePositive, "confirmed", "alice", AuditChain.Truncate(at)),
        };
        await store.WriteAsync(tx => { tx.PutIncident(resolved); return tx.Append(Draft("incident/inc_1")); });

        var after = await store.ListIncidentsAsync(new IncidentQuery());
        after.Select(i => (i.Seq, i.Value.Id)).ShouldBe(before.Select(i => (i.Seq, i.Value.Id)));
        after.Select(i => i.Value.Id).ShouldBe(["inc_3", "inc_2", "inc_1"]);
        (await store.ListIncidentsAsync(new IncidentQuery(Status: IncidentStatus.Open))).Select(i => i.Value.Id).ShouldBe(["inc_3", "inc_2"]);
        (await store.ListIncidentsAsync(new IncidentQuery(Status: IncidentStatus.Open, Severity: Severity.High))).Select(i => i.Value.Id).ShouldBe(["inc_3"]);
        (await store.ListIncidentsAsync(new IncidentQuery(Before: after[0].Seq, Limit: 1))).Select(i => i.Value.Id).ShouldBe(["inc_2"]);
        var read = await store.GetIncidentAsync("inc_1");
        read.ShouldNotBeNull().Resolution.ShouldBe(resolved.Resolution);
        read.ToDocument().ToJsonString().ShouldBe(resolved.ToDocument().ToJsonString());
        (await store.GetIncidentAsync("inc_9")).ShouldBeNull();
        (await store.WriteAsync(tx => tx.GetIncident("inc_2")))!.Severity.ShouldBe(Severity.Medium);
    }

    private static Bulwark.Response.StoredRun StoredRun(string id, string playbook, string incident, string status, bool active, DateTimeOffset at) => new()
    {
        Id = id,
        Playbook = playbook,
        IncidentId = incident,
        Status = status,
        Active = active,
        CreatedAt = AuditChain.Truncate(at),
        UpdatedAt = AuditChain.Truncate(at),
        Document = new System.Text.Json.Nodes.JsonObject { ["id"] = id, ["steps"] = new System.Text.Json.Nodes.JsonArray() },
    };

    [Fact]
    public async Task PutRun_InsertsThenReplaces_KeepingItsPosition_FindsByPlaybookAndIncident_AndListsActiveOldestFirst()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        await store.WriteAsync(tx =>
        {
            tx.PutRun(StoredRun("run_1", "contain", "inc_1", "running", true, at));
            tx.PutRun(StoredRun("run_2", "notify", "inc_1", "succeeded", false, at));
            tx.PutRun(StoredRun("run_3", "contain", "inc_2", "waiting_approval", true, at));
            return tx.Append(Draft("runs"));
        });
        var before = await store.ListRunsAsync(new Bulwark.Response.RunQuery());

        var done = StoredRun("run_1", "contain", "inc_1", "succeeded", false, at.AddSeconds(1)) with
        {
            Document = new System.Text.Json.Nodes.JsonObject { ["id"] = "run_1", ["note"] = "finished" },
        };
        await store.WriteAsync(tx => { tx.PutRun(done); return tx.Append(Draft("run/run_1")); });

        var after = await store.ListRunsAsync(new Bulwark.Response.RunQuery());
        after.Select(r => (r.Seq, r.Value.Id)).ShouldBe(before.Select(r => (r.Seq, r.Value.Id)));
        after.Select(r => r.Value.Id).ShouldBe(["run_3", "run_2", "run_1"]);
        (await store.ListRunsAsync(new Bulwark.Response.RunQuery(IncidentId: "inc_1"))).Select(r => r.Value.Id).ShouldBe(["run_2", "run_1"]);
        (await store.ListRunsAsync(new Bulwark.Response.RunQuery(Status: "succeeded"))).Select(r => r.Value.Id).ShouldBe(["run_2", "run_1"]);
        (await store.ListRunsAsync(new Bulwark.Response.RunQuery(Before: after[0].Seq, Limit: 1))).Select(r => r.Value.Id).ShouldBe(["run_2"]);
        (await store.ListActiveRunsAsync()).Select(r => r.Id).ShouldBe(["run_3"]);
        var read = (await store.GetRunAsync("run_1")).ShouldNotBeNull();
        read.Document["note"]!.GetValue<string>().ShouldBe("finished");
        read.Status.ShouldBe("succeeded");
        read.UpdatedAt.ShouldBe(done.UpdatedAt);
        read.CreatedAt.ShouldBe(AuditChain.Truncate(at));
        (await store.WriteAsync(tx => tx.FindRuns("contain", "inc_2"))).ShouldHaveSingleItem().Id.ShouldBe("run_3");
        (await store.WriteAsync(tx => tx.FindRuns("contain", "inc_9"))).ShouldBeEmpty();
        (await store.GetRunAsync("run_9")).ShouldBeNull();
    }

    [Fact]
    public async Task PutRun_AFollowUpRunOfOnePlaybookForOneIncident_IsKept_AndAnUnauditedOneIsRolledBack()
    {
        var store = await OpenStoreAsync();
        var at = Time.GetUtcNow();
        await store.WriteAsync(tx => { tx.PutRun(StoredRun("run_1", "contain", "inc_1", "succeeded", false, at)); return tx.Append(Draft("run/run_1")); });

        await store.WriteAsync(tx => { tx.PutRun(StoredRun("run_2", "contain", "inc_1", "running", true, at)); return tx.Append(Draft("run/run_2")); });
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => { tx.PutRun(StoredRun("run_3", "other", "inc_1", "running", true, at)); return 0; }));

        (await store.ListRunsAsync(new Bulwark.Response.RunQuery())).Select(r => r.Value.Id).ShouldBe(["run_2", "run_1"]);
        (await store.WriteAsync(tx => tx.FindRuns("contain", "inc_1"))).Select(r => r.Id).ShouldBe(["run_2", "run_1"]);
    }

    [Fact]
    public async Task PutApproval_InsertsThenAnswers_AndListsFilterByStatusAndRun()
    {
        var store = await OpenStoreAsync();
        var at = AuditChain.Truncate(Time.GetUtcNow());
        Bulwark.Response.StoredApproval Approval(string id, string run, string? step, string status) => new()
        {
            Id = id,
            RunId = run,
            StepId = step,
            Status = status,
            ExpiresAt = at.AddMinutes(15),
            CreatedAt = at,
            UpdatedAt = at,
            Document = new System.Text.Json.Nodes.JsonObject { ["roles"] = new System.Text.Json.Nodes.JsonArray("responder") },
        };
        await store.WriteAsync(tx =>
        {
            tx.PutApproval(Approval("apr_1", "run_1", null, "pending"));
            tx.PutApproval(Approval("apr_2", "run_1", "page", "pending"));
            tx.PutApproval(Approval("apr_3", "run_2", null, "pending"));
            return tx.Append(Draft("approvals"));
        });

        await store.WriteAsync(tx => { tx.PutApproval(Approval("apr_2", "run_1", "page", "approved") with { UpdatedAt = at.AddMinutes(1) }); return tx.Append(Draft("approval/apr_2")); });

        (await store.ListApprovalsAsync("pending", null, null, 100)).Select(a => a.Value.Id).ShouldBe(["apr_3", "apr_1"]);
        (await store.ListApprovalsAsync(null, "run_1", null, 100)).Select(a => a.Value.Id).ShouldBe(["apr_2", "apr_1"]);
        var answered = (await store.GetApprovalAsync("apr_2")).ShouldNotBeNull();
        answered.Status.ShouldBe("approved");
        answered.StepId.ShouldBe("page");
        answered.ExpiresAt.ShouldBe(at.AddMinutes(15));
        answered.UpdatedAt.ShouldBe(at.AddMinutes(1));
        (await store.WriteAsync(tx => tx.GetApproval("apr_1")))!.StepId.ShouldBeNull();
        (await store.GetApprovalAsync("apr_9")).ShouldBeNull();
    }

    [Fact]
    public async Task PutDefinition_VersionsEachKindApart_AndReplacesKeepingCreation()
    {
        var store = await OpenStoreAsync();
        var created = Time.GetUtcNow();
        DefinitionRecord Definition(string kind, string name, int n) => new()
        {
            Kind = kind,
            Name = name,
            Document = new System.Text.Json.Nodes.JsonObject { ["name"] = name, ["n"] = n },
            Version = 0,
            CreatedAt = AuditChain.Truncate(created),
            UpdatedAt = AuditChain.Truncate(Time.GetUtcNow()),
        };

        var first = await store.WriteAsync(tx => (tx.PutDefinition(Definition("Rule", "b", 1)), tx.Append(Draft("rule/b"))).Item1);
        var second = await store.WriteAsync(tx => (tx.PutDefinition(Definition("Rule", "a", 1)), tx.Append(Draft("rule/a"))).Item1);
        var other = await store.WriteAsync(tx => (tx.PutDefinition(Definition("Detector", "a", 1)), tx.Append(Draft("detector/a"))).Item1);
        Time.Advance(TimeSpan.FromMinutes(1));
        var third = await store.WriteAsync(tx => (tx.PutDefinition(Definition("Rule", "b", 2)), tx.Append(Draft("rule/b"))).Item1);

        (first, second, third, other).ShouldBe((1L, 2L, 3L, 1L));
        var (rules, version) = await store.ListDefinitionsAsync("Rule");
        version.ShouldBe(3);
        rules.Select(r => (r.Name, r.Version, r.Document["n"]!.GetValue<int>())).ShouldBe([("a", 2L, 1), ("b", 3L, 2)]);
        rules[1].CreatedAt.ShouldBe(AuditChain.Truncate(created));
        rules[1].UpdatedAt.ShouldBe(AuditChain.Truncate(Time.GetUtcNow()));
        var (playbooks, playbooksVersion) = await store.ListDefinitionsAsync("Playbook");
        playbooks.ShouldBeEmpty();
        playbooksVersion.ShouldBe(0);
        (await store.WriteAsync(tx => tx.GetDefinition("Detector", "a")))!.Kind.ShouldBe("Detector");
        (await store.WriteAsync(tx => tx.GetDefinition("Detector", "b"))).ShouldBeNull();
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.PutDefinition(Definition("Rule", "c", 1))));
    }

    private ThrottleManualBlock ManualBlock(string throttle, string key, DateTimeOffset until) => new()
    {
        Throttle = throttle,
        Key = key,
        Until = AuditChain.Truncate(until),
        Reason = "r-" + key,
        By = "alice",
        CreatedAt = AuditChain.Truncate(Time.GetUtcNow()),
        UpdatedAt = AuditChain.Truncate(Time.GetUtcNow()),
    };

    [Fact]
    public async Task ThrottleBlocks_PutReplaceDelete_ListByThrottleAndKey_AndReadBackExactly()
    {
        var store = await OpenStoreAsync();
        var now = Time.GetUtcNow();
        await store.WriteAsync(tx =>
        {
            tx.PutThrottleBlock(ManualBlock("login", "mallory", now.AddHours(1)));
            tx.PutThrottleBlock(ManualBlock("login", "203.0.113.0/24", now.AddHours(2)));
            tx.PutThrottleBlock(ManualBlock("signup", "mallory", now.AddHours(3)));
            return tx.Append(Draft("throttle/login"));
        });

        var extended = ManualBlock("login", "mallory", now.AddDays(1)) with
        {
            Reason = null,
            By = "system:playbook/contain",
            UpdatedAt = AuditChain.Truncate(now.AddMinutes(1)),
            PreviousUntil = AuditChain.Truncate(now.AddHours(1)),
            ChangeKey = "bwk-0123",
        };
        await store.WriteAsync(tx => { tx.PutThrottleBlock(extended); return tx.Append(Draft("throttle/login")); });

        (await store.ListThrottleBlocksAsync()).Select(b => (b.Throttle, b.Key)).ShouldBe([("login", "203.0.113.0/24"), ("login", "mallory"), ("signup", "mallory")]);
        (await store.ListThrottleBlocksAsync("login")).Select(b => b.Key).ShouldBe(["203.0.113.0/24", "mallory"]);
        (await store.ListThrottleBlocksAsync("absent")).ShouldBeEmpty();
        var read = (await store.ListThrottleBlocksAsync("login"))[1];
        read.ShouldBe(extended);
        (await store.WriteAsync(tx => tx.GetThrottleBlock("login", "mallory"))).ShouldBe(extended);
        (await store.WriteAsync(tx => tx.GetThrottleBlock("login", "trent"))).ShouldBeNull();

        (await store.WriteAsync(tx => (tx.DeleteThrottleBlock("login", "mallory"), tx.Append(Draft("throttle/login"))).Item1)).ShouldBeTrue();
        (await store.WriteAsync(tx => (tx.DeleteThrottleBlock("login", "mallory"), tx.Append(Draft("throttle/login"))).Item1)).ShouldBeFalse();
        (await store.ListThrottleBlocksAsync()).Select(b => (b.Throttle, b.Key)).ShouldBe([("login", "203.0.113.0/24"), ("signup", "mallory")]);
    }

    [Fact]
    public async Task ThrottleBlocks_UnauditedPutOrDelete_IsRolledBack_ButSweepingLapsedOnesNeedsNoEntry()
    {
        var store = await OpenStoreAsync();
        var now = Time.GetUtcNow();
        await store.WriteAsync(tx =>
        {
            tx.PutThrottleBlock(ManualBlock("login", "lapsed", now.AddMinutes(1)));
            tx.PutThrottleBlock(ManualBlock("login", "lapses-now", now.AddMinutes(2)));
            tx.PutThrottleBlock(ManualBlock("login", "held", now.AddMinutes(3)));
            return tx.Append(Draft("throttle/login"));
        });

        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => { tx.PutThrottleBlock(ManualBlock("login", "sneaky", now.AddDays(1))); return 0; }));
        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.DeleteThrottleBlock("login", "held")));
        var swept = await store.WriteAsync(tx => tx.DeleteThrottleBlocksBefore(now.AddMinutes(2)));

        swept.ShouldBe(2);
        (await store.ListThrottleBlocksAsync()).Select(b => b.Key).ShouldBe(["held"]);
        (await store.ReadAuditAsync(0, 10)).Count.ShouldBe(1);
    }

    private StoredEvidence Evidence(string id, string incident, string key, string content) => new()
    {
        Id = id,
        IncidentId = incident,
        IdempotencyKey = key,
        Sha256 = EvidenceSnapshot.Hash(content),
        Events = 2,
        Detections = 1,
        CreatedBy = "system:playbook/contain",
        CreatedAt = AuditChain.Truncate(Time.GetUtcNow()),
        Content = content,
    };

    [Fact]
    public async Task InsertEvidence_StoresOncePerIdAndKey_FindsByKey_ListsByIncidentNewestFirst_AndReadsBackTheExactText()
    {
        var store = await OpenStoreAsync();

        // Text that a re-serialization would change (key order, escapes, number forms) must come back byte for byte.
        const string Content = """{"z":1,"a":"caf\u00e9 \"q\"","n":1.50E+2,"u":"é"}""";
        var first = Evidence("evd_1", "inc_1", "bwk-1", Content);
        (await store.WriteAsync(tx => (tx.InsertEvidence(first), tx.Append(Draft("evidence/evd_1"))).Item1)).ShouldBeTrue();
        (await store.WriteAsync(tx => tx.InsertEvidence(Evidence("evd_1", "inc_1", "bwk-other", "{}")))).ShouldBeFalse();
        (await store.WriteAsync(tx => tx.InsertEvidence(Evidence("evd_other", "inc_1", "bwk-1", "{}")))).ShouldBeFalse();
        (await store.WriteAsync(tx => (tx.InsertEvidence(Evidence("evd_2", "inc_1", "bwk-2", "{}")), tx.Append(Draft("evidence/evd_2"))).Item1)).ShouldBeTrue();
        (await store.WriteAsync(tx => (tx.InsertEvidence(Evidence("evd_3", "inc_2", "bwk-3", "{}")), tx.Append(Draft("evidence/evd_3"))).Item1)).ShouldBeTrue();

        (await store.GetEvidenceAsync("evd_1")).ShouldBe(first);
        (await store.GetEvidenceAsync("evd_9")).ShouldBeNull();
        (await store.WriteAsync(tx => tx.FindEvidence("bwk-1"))).ShouldBe(first);
        (await store.WriteAsync(tx => tx.FindEvidence("bwk-9"))).ShouldBeNull();
        var listed = await store.ListEvidenceAsync("inc_1", null, 100);
        listed.Select(e => e.Value.Id).ShouldBe(["evd_2", "evd_1"]);
        (await store.ListEvidenceAsync("inc_1", listed[0].Seq, 100)).Select(e => e.Value.Id).ShouldBe(["evd_1"]);
        (await store.ListEvidenceAsync("inc_1", null, 1)).Select(e => e.Value.Id).ShouldBe(["evd_2"]);
        (await store.ListEvidenceAsync("inc_9", null, 100)).ShouldBeEmpty();
        (await store.ReadAuditAsync(0, 10)).Count.ShouldBe(3);
    }

    [Fact]
    public async Task InsertEvidence_WithoutAnAuditEntry_IsRolledBack()
    {
        var store = await OpenStoreAsync();

        await Should.ThrowAsync<UnauditedChangeException>(() => store.WriteAsync(tx => tx.InsertEvidence(Evidence("evd_1", "inc_1", "bwk-1", "{}"))));

        (await store.GetEvidenceAsync("evd_1")).ShouldBeNull();
    }

    [Fact]
    public async Task Reopen_KeepsThrottleBlocksAndEvidence()
    {
        var store = await OpenStoreAsync();
        var block = ManualBlock("login", "mallory", Time.GetUtcNow().AddDays(1));
        var evidence = Evidence("evd_1", "inc_1", "bwk-1", """{"a":1}""");
        await store.WriteAsync(tx =>
        {
            tx.PutThrottleBlock(block);
            tx.InsertEvidence(evidence);
            return tx.Append(Draft("both"));
        });
        await store.DisposeAsync();
        _opened.Remove(store);

        var reopened = await OpenStoreAsync();

        (await reopened.ListThrottleBlocksAsync()).ShouldHaveSingleItem().ShouldBe(block);
        (await reopened.GetEvidenceAsync("evd_1")).ShouldBe(evidence);
    }

    [Fact]
    public async Task Reopen_FindsEverythingAndKeepsChaining()
    {
        var store = await OpenStoreAsync();
        await store.WriteAsync(tx => { tx.PutIdentity(Identity("kept", tx.Now, Role.Admin)); return tx.Append(Draft("identity/kept")); });
        await store.DisposeAsync();
        _opened.Remove(store);

        var reopened = await OpenStoreAsync();
        (await reopened.GetIdentityAsync("kept")).ShouldNotBeNull();
        var entry = await reopened.WriteAsync(tx => tx.Append(Draft("after-restart")));
        entry.Seq.ShouldBe(2);
        entry.PrevHash.ShouldBe((await reopened.ReadAuditAsync(0, 1))[0].Hash);
    }
}
