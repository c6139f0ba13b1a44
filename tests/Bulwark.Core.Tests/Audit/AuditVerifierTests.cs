using Bulwark.Audit;
using Bulwark.TestUtils;

namespace Bulwark.Core.Tests.Audit;

public sealed class AuditVerifierTests
{
    private const int Count = 20;

    [Fact]
    public void Verify_IntactChain_IsOkWithEveryEntryAndTheLastHashAsHead()
    {
        var chain = BuildChain(Count);

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeTrue(result.Problem);
        result.Entries.ShouldBe(Count);
        result.Head.ShouldBe(chain[^1].Hash);
        result.FirstBadSeq.ShouldBeNull();
        result.Problem.ShouldBeNull();
    }

    [Fact]
    public void Verify_IntactChainWithoutRecordedHead_IsOk()
    {
        var chain = BuildChain(Count);

        var result = Verify(chain, recordedHead: null);

        result.Ok.ShouldBeTrue(result.Problem);
        result.Head.ShouldBe(chain[^1].Hash);
    }

    [Fact]
    public void Verify_EmptyLog_IsOkWithTheGenesisHead()
    {
        var result = Verify([], AuditHead.Empty);

        result.Ok.ShouldBeTrue();
        result.Entries.ShouldBe(0);
        result.Head.ShouldBe(AuditChain.GenesisHash);
        result.FirstBadSeq.ShouldBeNull();
        new AuditVerifier().Complete().Ok.ShouldBeTrue();
    }

    [Theory]
    [InlineData("time")]
    [InlineData("actor")]
    [InlineData("action")]
    [InlineData("target")]
    [InlineData("before")]
    [InlineData("after")]
    [InlineData("reason")]
    [InlineData("correlation_id")]
    [InlineData("hash")]
    public void Verify_EditedField_IsCaughtAtThatEntry(string field)
    {
        var chain = BuildChain(Count);
        var entry = chain[6];
        chain[6] = field switch
        {
            "time" => entry with { Time = entry.Time.AddSeconds(-1) },
            "actor" => entry with { Actor = "someone-else" },
            "action" => entry with { Action = "identity.noop" },
            "target" => entry with { Target = "identity/nobody" },
            "before" => entry with { Before = null },
            "after" => entry with { After = entry.After!.Replace("viewer", "admin", StringComparison.Ordinal) },
            "reason" => entry with { Reason = "nothing to see" },
            "correlation_id" => entry with { CorrelationId = null },
            "hash" => entry with { Hash = AuditChain.GenesisHash },
            _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
        };

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(7);
        result.Problem.ShouldNotBeNull().ShouldContain("edited");
        result.Entries.ShouldBe(Count);
    }

    [Fact]
    public void Verify_EditedPrevHash_IsCaughtAsABrokenLinkAtThatEntry()
    {
        var chain = BuildChain(Count);
        chain[6] = chain[6] with { PrevHash = new string('e', 64) };

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(7);
        result.Problem.ShouldNotBeNull().ShouldContain("does not link");
    }

    [Fact]
    public void Verify_EditedEntryWithRecomputedHash_IsCaughtAtTheNextEntry()
    {
        var chain = BuildChain(Count);
        var edited = chain[6] with { Reason = "rewritten" };
        chain[6] = edited with { Hash = AuditChain.ComputeHash(edited) };

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(8);
        result.Problem.ShouldNotBeNull().ShouldContain("does not link");
    }

    [Fact]
    public void Verify_DeletedMiddleEntry_IsCaughtAsAGapAtTheNextSeq()
    {
        var chain = BuildChain(Count);
        chain.RemoveAt(9);

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(11);
        result.Problem.ShouldNotBeNull().ShouldContain("gap");
        result.Problem.ShouldNotBeNull().ShouldContain("deleted");
        result.Entries.ShouldBe(Count - 1);
    }

    [Fact]
    public void Verify_DeletedFirstEntry_IsCaughtAtTheSecond()
    {
        var chain = BuildChain(Count);
        chain.RemoveAt(0);

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(2);
    }

    [Fact]
    public void Verify_PairSwappedInPosition_IsCaught()
    {
        var chain = BuildChain(Count);
        (chain[4], chain[5]) = (chain[5], chain[4]);

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(6, "the entry found where entry 5 belongs");
        result.Problem.ShouldNotBeNull().ShouldContain("expected entry 5");
    }

    [Fact]
    public void Verify_PairWithSwappedSeqValues_IsCaughtAsABrokenLink()
    {
        // What a store read (ORDER BY seq) returns after the two rows' seq values are exchanged.
        var chain = BuildChain(Count);
        var fifth = chain[4];
        var sixth = chain[5];
        chain[4] = sixth with { Seq = 5 };
        chain[5] = fifth with { Seq = 6 };

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(5);
        result.Problem.ShouldNotBeNull().ShouldContain("does not link");
    }

    [Fact]
    public void Verify_InsertedForgedEntryWithValidOwnHash_IsCaughtByTheBrokenLink()
    {
        var chain = BuildChain(Count);
        var forged = AuditChain.Link(
            new AuditDraft { Actor = "admin", Action = "identity.delete", Target = "identity/evidence" },
            new AuditHead(chain[2].Seq, chain[2].Hash),
            chain[2].Time);
        AuditChain.ComputeHash(forged).ShouldBe(forged.Hash, "the forged entry is valid on its own");
        var tampered = chain.Take(3)
            .Append(forged)
            .Concat(chain.Skip(3).Select(e => e with { Seq = e.Seq + 1 }))
            .ToList();

        var result = Verify(tampered, new AuditHead(tampered[^1].Seq, tampered[^1].Hash));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(5);
        result.Problem.ShouldNotBeNull().ShouldContain("does not link");
        result.Entries.ShouldBe(Count + 1);
    }

    [Fact]
    public void Verify_EntryReplacedByForgeryWithValidOwnHash_IsCaughtAtTheNextEntry()
    {
        var chain = BuildChain(Count);
        chain[3] = AuditChain.Link(
            new AuditDraft { Actor = "admin", Action = "identity.delete", Target = "identity/evidence" },
            new AuditHead(chain[2].Seq, chain[2].Hash),
            chain[3].Time);

        var result = Verify(chain, Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(5);
        result.Problem.ShouldNotBeNull().ShouldContain("does not link");
    }

    [Fact]
    public void Complete_RecordedHeadBeyondTheTruncatedTail_ReportsTheFirstMissingEntry()
    {
        var chain = BuildChain(Count);
        var recorded = Head(chain);

        var result = Verify(chain.Take(17).ToList(), recorded);

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(18);
        result.Problem.ShouldNotBeNull().ShouldContain("missing from the end");
        result.Entries.ShouldBe(17);
        result.Head.ShouldBe(chain[16].Hash);
    }

    [Fact]
    public void Complete_RecordedHeadWithEveryEntryDeleted_ReportsFromTheFirst()
    {
        var chain = BuildChain(Count);

        var result = Verify([], Head(chain));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(1);
        result.Problem.ShouldNotBeNull().ShouldContain("missing from the end");
    }

    [Fact]
    public void Complete_WithoutRecordedHead_CannotDetectATruncatedTail()
    {
        // The documented limit: without the head the store recorded, a log cut short is indistinguishable from a
        // shorter intact log. Stores keep a recorded head for this reason.
        var chain = BuildChain(Count);

        var result = Verify(chain.Take(17).ToList(), recordedHead: null);

        result.Ok.ShouldBeTrue();
        result.Entries.ShouldBe(17);
        result.Head.ShouldBe(chain[16].Hash);
    }

    [Fact]
    public void Complete_RecordedHeadHashMismatch_IsCaughtAtTheHead()
    {
        var chain = BuildChain(Count);

        var result = Verify(chain, new AuditHead(Count, new string('d', 64)));

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(Count);
        result.Problem.ShouldNotBeNull().ShouldContain("recorded head hash");
    }

    [Fact]
    public void Complete_LogLongerThanRecordedHead_ReportsTheFirstEntryBeyondTheHead()
    {
        var chain = BuildChain(Count);

        var result = Verify(chain, new AuditHead(18, chain[17].Hash));

        result.Ok.ShouldBeFalse();
        result.Problem.ShouldNotBeNull().ShouldContain("beyond the recorded head");
        result.FirstBadSeq.ShouldBe(19, "entries 1-18 match the recorded head; 19 is the first entry beyond it");
    }

    [Fact]
    public void Complete_EntriesWithAnEmptyRecordedHead_ReportsAnExistingEntry()
    {
        var chain = BuildChain(3);

        var result = Verify(chain, AuditHead.Empty);

        result.Ok.ShouldBeFalse();
        result.FirstBadSeq.ShouldBe(1, "sequence numbers start at 1; 0 names no entry");
    }

    [Fact]
    public void Verify_AfterTheFirstBreak_LaterEntriesAreOnlyCounted()
    {
        var chain = BuildChain(Count);
        chain[2] = chain[2] with { Actor = "first-break" };
        chain[11] = chain[11] with { Actor = "second-break" };

        var verifier = new AuditVerifier();
        verifier.Broken.ShouldBeFalse();
        foreach (var entry in chain)
        {
            verifier.Add(entry);
            verifier.Broken.ShouldBe(entry.Seq >= 3, $"after entry {entry.Seq}");
        }

        var result = verifier.Complete(new AuditHead(99, new string('9', 64)));

        result.FirstBadSeq.ShouldBe(3);
        result.Problem.ShouldNotBeNull().ShouldContain("entry 3");
        result.Entries.ShouldBe(Count);
        result.Head.ShouldBe(chain[^1].Hash);
    }

    [Fact]
    public void Verify_EveryPossibleSingleDeletion_IsCaught()
    {
        for (var i = 0; i < Count; i++)
        {
            var chain = BuildChain(Count);
            var recorded = Head(chain);
            chain.RemoveAt(i);

            var result = Verify(chain, recorded);

            result.Ok.ShouldBeFalse($"deleted entry {i + 1}");
            result.FirstBadSeq.ShouldBe(i + 1 == Count ? Count : i + 2, $"deleted entry {i + 1}");
        }
    }

    [Fact]
    public void Verify_RandomAdjacentSwapsOfSeqValues_AreAlwaysCaughtAtTheFirstSwappedSeq()
    {
        var random = new Random(12345);
        for (var round = 0; round < 200; round++)
        {
            var chain = BuildChain(Count);
            var i = random.Next(Count - 1);
            var first = chain[i];
            var second = chain[i + 1];
            chain[i] = second with { Seq = first.Seq };
            chain[i + 1] = first with { Seq = second.Seq };

            var result = Verify(chain, Head(chain));

            result.Ok.ShouldBeFalse($"swapped {i + 1} and {i + 2}");
            result.FirstBadSeq.ShouldBe(i + 1, $"swapped {i + 1} and {i + 2}");
        }
    }

    [Fact]
    public void Add_Null_Throws()
    {
        Should.Throw<ArgumentNullException>(() => new AuditVerifier().Add(null!));
    }

    /// <summary>A valid chain of <paramref name="count"/> entries, with a clock that moves between writes.</summary>
    private static List<AuditEntry> BuildChain(int count)
    {
        var clock = new FakeTimeProvider();
        var head = AuditHead.Empty;
        var chain = new List<AuditEntry>(count);
        for (var i = 1; i <= count; i++)
        {
            var entry = AuditChain.Link(
                new AuditDraft
                {
                    Actor = i % 3 == 0 ? "system:sweeper" : "admin",
                    Action = i == 1 ? "identity.create" : "identity.update",
                    Target = $"identity/user-{i}",
                    Before = i == 1 ? null : $$"""{"name":"user-{{i}}","roles":["viewer"]}""",
                    After = $$"""{"name":"user-{{i}}","roles":["viewer","operator"]}""",
                    Reason = i % 2 == 0 ? "rotation" : null,
                    CorrelationId = $"req-{i}",
                },
                head,
                clock.GetUtcNow());
            chain.Add(entry);
            head = new AuditHead(entry.Seq, entry.Hash);
            clock.Advance(TimeSpan.FromTicks(12_345_678));
        }

        return chain;
    }

    private static AuditHead Head(List<AuditEntry> chain) =>
        chain.Count == 0 ? AuditHead.Empty : new AuditHead(chain[^1].Seq, chain[^1].Hash);

    private static AuditVerification Verify(IEnumerable<AuditEntry> entries, AuditHead? recordedHead)
    {
        var verifier = new AuditVerifier();
        foreach (var entry in entries)
        {
            verifier.Add(entry);
        }

        return verifier.Complete(recordedHead);
    }
}
