#include "core/decision_log.h"

#include <syslog.h>

namespace nvh {
namespace {

int Priority(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return LOG_INFO;
    case Severity::kNotice:
      return LOG_NOTICE;
    case Severity::kWarning:
      return LOG_WARNING;
    case Severity::kError:
      return LOG_ERR;
  }
  return LOG_ERR;
}

}  // namespace

SyslogDecisionLog::SyslogDecisionLog() {
  openlog("nvdimm-hook", LOG_PID, LOG_DAEMON);
}

SyslogDecisionLog::~SyslogDecisionLog() {
  closelog();
}

void SyslogDecisionLog::Record(Severity severity, std::string_view line) {
  // "%.*s": the line is data, never a format string.
  syslog(Priority(severity), "%.*s", static_cast<int>(line.size()), line.data());
}

void MemoryDecisionLog::Record(Severity severity, std::string_view line) {
  static constexpr const char* kNames[] = {"info", "notice", "warning", "error"};
  lines_.push_back(std::string(kNames[static_cast<int>(severity)]) + ": " + std::string(line));
}

}  // namespace nvh
