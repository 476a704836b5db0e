#include "core/decision_log.h"

#include <syslog.h>

#include <iostream>

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

std::string_view SeverityName(Severity severity) {
  static constexpr std::string_view kNames[] = {"info", "notice", "warning", "error"};
  return kNames[static_cast<int>(severity)];
}

void StderrDecisionLog::Record(Severity severity, std::string_view line) {
  std::cerr << SeverityName(severity) << ": " << line << "\n";
}

void MemoryDecisionLog::Record(Severity severity, std::string_view line) {
  lines_.push_back(std::string(SeverityName(severity)) + ": " + std::string(line));
}

}  // namespace nvh
