using Bulwark.Ingest;
using Bulwark.Problems;

namespace Bulwark.Server.Http;

/// <summary>
/// Turns every failure into problem+json: Kestrel's bad-request errors (an oversized body mid-read becomes 413),
/// an event store that cannot serve (503), unhandled exceptions (500; both logged with the correlation id, no details
/// leaked), and empty 404/405 answers from routing.
/// </summary>
internal sealed partial class ErrorHandling(RequestDelegate next, ILogger<ErrorHandling> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (BadHttpRequestException error) when (!context.Response.HasStarted)
        {
            var kind = error.StatusCode == StatusCodes.Status413PayloadTooLarge ? ProblemKind.PayloadTooLarge : ProblemKind.MalformedRequest;
            context.Response.Clear();
            await ProblemResults.WriteAsync(context, kind, error.Message).ConfigureAwait(false);
            return;
        }
        catch (ProblemException refusal) when (!context.Response.HasStarted)
        {
            context.Response.Clear();
            await ProblemResults.WriteAsync(context, refusal.Kind, refusal.Message).ConfigureAwait(false);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception error) when (!context.Response.HasStarted && context.RequestServices.GetService<IEventStore>() is { } events && events.IsUnavailable(error))
        {
            // Not a bug: the event store cannot serve now (closed, disk full or failing, locked). Nothing beyond what it
            // committed was recorded, and the same request can succeed once it is back.
            LogStoreUnavailable(logger, error, context.Request.Method, context.Request.Path);
            context.Response.Clear();
            await ProblemResults.WriteAsync(
                context,
                ProblemKind.Unavailable,
                $"The store cannot serve this now ({error.GetType().Name}); nothing was recorded beyond what it had committed. The server log has the error under this answer's correlation id.").ConfigureAwait(false);
            return;
        }
#pragma warning disable CA1031 // The last line of defence: every other failure becomes a 500 problem.
        catch (Exception error) when (!context.Response.HasStarted)
#pragma warning restore CA1031
        {
            LogUnhandled(logger, error, context.Request.Method, context.Request.Path);
            context.Response.Clear();
            await ProblemResults.WriteAsync(context, ProblemKind.Internal, "Look up the correlation id in the server log.").ConfigureAwait(false);
            return;
        }

        if (context.Response is { HasStarted: false, ContentLength: null, ContentType: null } &&
            context.Response.StatusCode is StatusCodes.Status404NotFound or StatusCodes.Status405MethodNotAllowed)
        {
            var kind = context.Response.StatusCode == StatusCodes.Status404NotFound ? ProblemKind.NotFound : ProblemKind.MethodNotAllowed;
            await ProblemResults.WriteAsync(context, kind, $"{context.Request.Method} {context.Request.Path} is not an endpoint").ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A store could not serve {Method} {Path}")]
    private static partial void LogStoreUnavailable(ILogger logger, Exception error, string method, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error in {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception error, string method, string path);
}
