using ContentFilter.Pipeline.Audit;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace ContentFilter.Host.Logging;

/// <summary>Writes each audit record twice: the amavis-style line to the log, and a JSON line to the audit file.</summary>
/// <remarks>
/// The line is what admins grep today (<c>Passed CLEAN {RelayedInbound} ...</c>); the JSON record (compact Serilog
/// event with an <c>Audit</c> property) carries the same fields plus per-stage timings, for <c>contentfilter report</c>.
/// </remarks>
public sealed class SerilogAuditSink : IAuditSink, IDisposable
{
    private readonly ILogger _log;
    private readonly ILogger _greylistLog;
    private readonly AuditJsonFile? _file;

    /// <summary>Creates the sink; <paramref name="auditFile"/> empty = no JSON file.</summary>
    public SerilogAuditSink(ILogger log, string auditFile)
    {
        _log = log.ForContext(Constants.SourceContextPropertyName, "ContentFilter.Audit");
        _greylistLog = log.ForContext(Constants.SourceContextPropertyName, "ContentFilter.Greylist");
        if (auditFile.Length > 0)
        {
            string? dir = Path.GetDirectoryName(auditFile);
            if (!string.IsNullOrEmpty(dir))
            {
                Directory.CreateDirectory(dir);
            }
            // Appends with O_APPEND: the quarantine CLI (another process) audits releases into the same file.
            _file = new AuditJsonFile(auditFile, ex => _log.Error(ex, "Could not write greylist audit records"));
        }
    }

    /// <inheritdoc />
    public void Write(AuditRecord record)
    {
        try
        {
            string line = AmavisLogLine.Format(record);
            _log.Write(record.Disposition == "Passed" ? LogEventLevel.Information : LogEventLevel.Warning, "{AuditLine:l}", line);
            _file?.Append(line, record);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Could not write the audit record of {MailId}", record.MailId);
        }
    }

    /// <inheritdoc />
    public void WriteGreylist(GreylistAuditRecord record)
    {
        try
        {
            // postgrey's own line, so existing log greps keep working.
            string line = $"action={record.Action}, reason={record.Reason}, client_name={record.ClientName}, client_address={record.ClientAddress}, sender={record.Sender}, recipient={record.Recipient}";
            _greylistLog.Information("{GreylistLine:l}", line);
            // Queued: the file gets the decisions of a few milliseconds with one write (AuditJsonFile.Enqueue).
            _file?.Enqueue(line, record);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Could not write a greylist audit record");
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file?.Dispose();
}
