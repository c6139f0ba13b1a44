using Bulwark.Problems;

namespace Bulwark.Server.Http;

/// <summary>
/// A refusal that a service raises deep inside a call (often inside a store transaction, which it rolls back); the error
/// handler answers it as problem+json with the kind's status.
/// </summary>
internal sealed class ProblemException : Exception
{
    public ProblemException(ProblemKind kind, string detail)
        : base(detail) => Kind = kind;

    public ProblemException()
        : this(ProblemKind.Internal, "Unexpected error")
    {
    }

    public ProblemException(string message)
        : this(ProblemKind.Internal, message)
    {
    }

    public ProblemException(string message, Exception innerException)
        : base(message, innerException) => Kind = ProblemKind.Internal;

    public ProblemKind Kind { get; }
}
