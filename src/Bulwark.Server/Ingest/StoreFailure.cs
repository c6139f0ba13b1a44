using System.Data.Common;

namespace Bulwark.Server.Ingest;

/// <summary>
/// An error of the event store itself (the database refused or failed a write or read), as opposed to a bug: a request
/// that meets one is answered 503, with nothing recorded beyond what committed, rather than 500.
/// </summary>
internal static class StoreFailure
{
    public static bool Is(Exception error) => error is DbException or IOException;
}
