using System.Globalization;
using Bulwark.Audit;

namespace Bulwark.Core.Tests.Audit;

public sealed class AuditChainTests
{
    private static readonly DateTimeOffset BaseTime = new(2026, 11, 21, 10, 4, 5, TimeSpan.Zero);

    private static readonly string[] Fragments = ["", "a", "admin", "identity/alice", "é", "日本", "☃", "😀", "\"", "\\", "\n", "{\"a\":1}", " ", "\u0000", "system:bootstrap"];

    private static readonly AuditEntry Sample = new()
    {
        Seq = 42,
        Time = BaseTime.AddTicks(1_234_560),
        Actor = "alice",
        Action = "identity.update",
        Target = "identity/bob",
        Before = """{"name":"bob","roles":["viewer"]}""",
        After = """{"name":"bob","roles":["viewer","operator"]}""",
        Reason = "on call",
        CorrelationId = "req-1",
        PrevHash = new string('a', 64),
        Hash = string.Empty,
    };

    [Fact]
    public void GenesisHash_IsSixtyFourZeros()
    {
        AuditChain.GenesisHash.ShouldBe("0000000000000000000000000000000000000000000000000000000000000000");
        AuditHead.Empty.ShouldBe(new AuditHead(0, AuditChain.GenesisHash));
    }

    [Fact]
    public void Link_AfterHead_SetsNextSeqAndPreviousHash()
    {
        var head = new AuditHead(41, new string('c', 64));
        var draft = new AuditDraft
        {
            Actor = "alice",
            Action = "identity.create",
            Target = "identity/bob",
            Before = null,
            After = """{"name":"bob"}""",
            Reason = "why",
            CorrelationId = "corr",
        };

        var entry = AuditChain.Link(draft, head, BaseTime);

        entry.Seq.ShouldBe(42);
        entry.PrevHash.ShouldBe(head.Hash);
        entry.Actor.ShouldBe(draft.Actor);
        entry.Action.ShouldBe(draft.Action);
        entry.Target.ShouldBe(draft.Target);
        entry.Before.ShouldBeNull();
        entry.After.ShouldBe(draft.After);
        entry.Reason.ShouldBe(draft.Reason);
        entry.CorrelationId.ShouldBe(draft.CorrelationId);
        entry.Hash.ShouldBe(AuditReference.Hash(entry));
    }

    [Fact]
    public void Link_EmptyHead_StartsAtOneFromGenesis()
    {
        var entry = AuditChain.Link(Draft("first"), AuditHead.Empty, BaseTime);

        entry.Seq.ShouldBe(1);
        entry.PrevHash.ShouldBe(AuditChain.GenesisHash);
    }

    [Fact]
    public void Link_TimeWithSubMicrosecondTicks_IsTruncatedToMicroseconds()
    {
        var time = BaseTime.AddTicks(1_234_567);

        var entry = AuditChain.Link(Draft("x"), AuditHead.Empty, time);

        entry.Time.ShouldBe(BaseTime.AddTicks(1_234_560));
        entry.Time.Offset.ShouldBe(TimeSpan.Zero);
    }

    [Fact]
    public void Link_TimeWithOffset_IsStoredInUtc()
    {
        var local = new DateTimeOffset(2026, 11, 21, 12, 4, 5, TimeSpan.FromHours(2)).AddTicks(9);

        var entry = AuditChain.Link(Draft("x"), AuditHead.Empty, local);

        entry.Time.Offset.ShouldBe(TimeSpan.Zero);
        entry.Time.UtcDateTime.ShouldBe(new DateTime(2026, 11, 21, 10, 4, 5, DateTimeKind.Utc));
    }

    [Fact]
    public void Truncate_DropsTicksBelowOneMicrosecond()
    {
        for (var ticks = 0; ticks < 30; ticks++)
        {
            AuditChain.Truncate(BaseTime.AddTicks(ticks)).ShouldBe(BaseTime.AddTicks(ticks / 10 * 10), $"+{ticks} ticks");
        }
    }

    [Fact]
    public void ComputeHash_Sample_MatchesTheDocumentedEncoding()
    {
        AuditChain.ComputeHash(Sample).ShouldBe(AuditReference.Hash(Sample));
    }

    [Fact]
    public void ComputeHash_RandomEntries_MatchTheDocumentedEncoding()
    {
        var random = new Random(12345);
        for (var round = 0; round < 1000; round++)
        {
            var entry = RandomEntry(random);

            AuditChain.ComputeHash(entry).ShouldBe(AuditReference.Hash(entry), $"round {round}: {entry}");
        }
    }

    [Fact]
    public void ComputeHash_IsLowercaseHexSha256()
    {
        var hash = AuditChain.ComputeHash(Sample);

        hash.Length.ShouldBe(64);
        hash.ShouldAllBe(c => (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }

    [Fact]
    public void ComputeHash_IgnoresTheEntrysOwnHash()
    {
        AuditChain.ComputeHash(Sample with { Hash = new string('f', 64) }).ShouldBe(AuditChain.ComputeHash(Sample));
    }

    [Theory]
    [InlineData("seq")]
    [InlineData("time")]
    [InlineData("actor")]
    [InlineData("action")]
    [InlineData("target")]
    [InlineData("before")]
    [InlineData("after")]
    [InlineData("reason")]
    [InlineData("correlation_id")]
    [InlineData("prev_hash")]
    public void ComputeHash_AnySingleFieldChanged_ChangesTheHash(string field)
    {
        var original = AuditChain.ComputeHash(Sample);

        foreach (var changed in Variations(Sample, field))
        {
            AuditChain.ComputeHash(changed).ShouldNotBe(original, $"{field}: {changed}");
        }
    }

    [Fact]
    public void ComputeHash_EveryFieldHasVariations()
    {
        // Guards the theory above: each field name must produce at least one changed entry.
        string[] fields = ["seq", "time", "actor", "action", "target", "before", "after", "reason", "correlation_id", "prev_hash"];
        foreach (var field in fields)
        {
            Variations(Sample, field).ShouldNotBeEmpty(field);
        }
    }

    [Theory]
    [InlineData("before")]
    [InlineData("after")]
    [InlineData("reason")]
    [InlineData("correlation_id")]
    public void ComputeHash_NullAndEmptyString_GiveDifferentHashes(string field)
    {
        var withNull = Set(Sample, field, null);
        var withEmpty = Set(Sample, field, string.Empty);

        AuditChain.ComputeHash(withNull).ShouldNotBe(AuditChain.ComputeHash(withEmpty));
    }

    [Fact]
    public void ComputeHash_TextMovedAcrossAFieldBoundary_ChangesTheHash()
    {
        var left = Sample with { Actor = "ab", Action = "c" };
        var right = Sample with { Actor = "a", Action = "bc" };

        AuditChain.ComputeHash(left).ShouldNotBe(AuditChain.ComputeHash(right));
    }

    [Fact]
    public void ComputeHash_SameInstantInAnotherOffset_GivesTheSameHash()
    {
        var shifted = Sample with { Time = Sample.Time.ToOffset(TimeSpan.FromHours(-7)) };

        AuditChain.ComputeHash(shifted).ShouldBe(AuditChain.ComputeHash(Sample));
    }

    [Fact]
    public void FormatTime_DocumentedExample_IsUtcWithSixFractionDigits()
    {
        var time = new DateTimeOffset(2026, 11, 21, 12, 4, 5, TimeSpan.FromHours(2)).AddTicks(1_234_567);

        AuditChain.FormatTime(time).ShouldBe("2026-11-21T10:04:05.123456Z");
    }

    [Fact]
    public void FormatTime_RandomTimes_MatchesTheReferenceFormat()
    {
        var random = new Random(12345);
        for (var round = 0; round < 1000; round++)
        {
            var time = RandomTime(random);

            AuditChain.FormatTime(time).ShouldBe(AuditReference.Time(time));
        }
    }

    [Fact]
    public void ParseTime_FormatTimeOutput_RoundTripsToTheTruncatedTimeInUtc()
    {
        var random = new Random(12345);
        for (var round = 0; round < 1000; round++)
        {
            var time = RandomTime(random);

            var parsed = AuditChain.ParseTime(AuditChain.FormatTime(time));

            parsed.ShouldBe(AuditChain.Truncate(time), time.ToString("O", CultureInfo.InvariantCulture));
            parsed.Offset.ShouldBe(TimeSpan.Zero);
            parsed.UtcTicks.ShouldBe(time.UtcTicks / 10 * 10);
        }
    }

    [Theory]
    [InlineData("2026-11-21T10:04:05Z")]
    [InlineData("2026-11-21T10:04:05.123Z")]
    [InlineData("2026-11-21T10:04:05.123456")]
    [InlineData("2026-11-21T10:04:05.123456+00:00")]
    [InlineData("2026-11-21 10:04:05.123456Z")]
    [InlineData("")]
    public void ParseTime_OtherFormats_AreRejected(string text)
    {
        Should.Throw<FormatException>(() => AuditChain.ParseTime(text));
    }

    [Fact]
    public void ComputeHash_Null_Throws()
    {
        Should.Throw<ArgumentNullException>(() => AuditChain.ComputeHash(null!));
        Should.Throw<ArgumentNullException>(() => AuditChain.Link(null!, AuditHead.Empty, BaseTime));
    }

    private static AuditDraft Draft(string target) => new() { Actor = "admin", Action = "test.write", Target = target };

    private static IEnumerable<AuditEntry> Variations(AuditEntry entry, string field)
    {
        switch (field)
        {
            case "seq":
                yield return entry with { Seq = entry.Seq + 1 };
                yield return entry with { Seq = entry.Seq - 1 };
                break;
            case "time":
                yield return entry with { Time = entry.Time.AddTicks(10) };
                yield return entry with { Time = entry.Time.AddSeconds(-1) };
                yield return entry with { Time = entry.Time.AddYears(1) };
                break;
            case "prev_hash":
                yield return entry with { PrevHash = new string('b', 64) };
                yield return entry with { PrevHash = entry.PrevHash.ToUpperInvariant() };
                yield return entry with { PrevHash = AuditChain.GenesisHash };
                break;
            default:
                var current = Get(entry, field);
                string?[] candidates = [null, string.Empty, current + "x", "x" + current, current?.ToUpperInvariant(), current + " "];
                foreach (var value in candidates.Where(v => !string.Equals(v, current, StringComparison.Ordinal)).Distinct())
                {
                    if (value is null && field is "actor" or "action" or "target")
                    {
                        continue;
                    }

                    yield return Set(entry, field, value);
                }

                break;
        }
    }

    private static string? Get(AuditEntry entry, string field) => field switch
    {
        "actor" => entry.Actor,
        "action" => entry.Action,
        "target" => entry.Target,
        "before" => entry.Before,
        "after" => entry.After,
        "reason" => entry.Reason,
        "correlation_id" => entry.CorrelationId,
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    private static AuditEntry Set(AuditEntry entry, string field, string? value) => field switch
    {
        "actor" => entry with { Actor = value! },
        "action" => entry with { Action = value! },
        "target" => entry with { Target = value! },
        "before" => entry with { Before = value },
        "after" => entry with { After = value },
        "reason" => entry with { Reason = value },
        "correlation_id" => entry with { CorrelationId = value },
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
    };

    private static DateTimeOffset RandomTime(Random random) =>
        new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero)
            .AddTicks(random.NextInt64(0, TimeSpan.TicksPerDay * 365 * 100))
            .ToOffset(TimeSpan.FromMinutes(random.Next(-14 * 4, 14 * 4 + 1) * 15));

    private static string RandomText(Random random)
    {
        var parts = random.Next(0, 4);
        var text = string.Empty;
        for (var i = 0; i < parts; i++)
        {
            text += Fragments[random.Next(Fragments.Length)];
        }

        return text;
    }

    private static string? MaybeText(Random random) => random.Next(4) == 0 ? null : RandomText(random);

    private static AuditEntry RandomEntry(Random random) => new()
    {
        Seq = random.Next(3) == 0 ? random.NextInt64(1, long.MaxValue) : random.Next(1, 100_000),
        Time = AuditChain.Truncate(RandomTime(random)),
        Actor = RandomText(random),
        Action = RandomText(random),
        Target = RandomText(random),
        Before = MaybeText(random),
        After = MaybeText(random),
        Reason = MaybeText(random),
        CorrelationId = MaybeText(random),
        PrevHash = Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64())) + new string('0', 48),
        Hash = string.Empty,
    };
}
