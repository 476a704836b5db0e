// The one place for error values. The core never prints or exits: it returns
// Result<T>; only the mains turn an Error into a message and an exit code.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace nvh {

enum class ErrorKind {
  kInvalidInput,   // the admin's XML, annotation, inventory file or options
  kNotFound,       // a selector, file or device that does not exist
  kUnsatisfiable,  // a geometry for which no layout meets every constraint
  kConflict,       // the domain differs from its plan; a namespace is claimed
  kSystem,         // an OS or library call failed
};

struct Error {
  ErrorKind kind;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> Fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{kind, std::move(message)});
}

// Prefixes context ("domain 'vm1': ") to an error travelling up.
inline Error WithContext(Error error, const std::string& context) {
  error.message = context + error.message;
  return error;
}

}  // namespace nvh
