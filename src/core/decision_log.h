// One line per decision (a plan refused, a start allowed, a claim taken),
// behind a small interface so tests can read what was decided.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nvh {

enum class Severity { kInfo, kNotice, kWarning, kError };

class DecisionLog {
 public:
  virtual ~DecisionLog() = default;
  virtual void Record(Severity severity, std::string_view line) = 0;
};

// syslog(3), facility LOG_DAEMON, ident "nvdimm-hook". openlog happens once,
// in the constructor; syslog drops lines silently when no daemon listens.
class SyslogDecisionLog final : public DecisionLog {
 public:
  SyslogDecisionLog();
  ~SyslogDecisionLog() override;
  SyslogDecisionLog(const SyslogDecisionLog&) = delete;
  SyslogDecisionLog& operator=(const SyslogDecisionLog&) = delete;
  void Record(Severity severity, std::string_view line) override;
};

// For interactive commands: each line on stderr, prefixed with its severity.
class StderrDecisionLog final : public DecisionLog {
 public:
  void Record(Severity severity, std::string_view line) override;
};

// Keeps lines in memory; for tests.
class MemoryDecisionLog final : public DecisionLog {
 public:
  void Record(Severity severity, std::string_view line) override;
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

}  // namespace nvh
