// The setup error regime (see STYLE.md, "two error regimes"): configuration, sockets and
// capture handles may throw one of these; main() turns them into a message and an exit code.
// The per-packet path never throws.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace netflowd {

// Something went wrong while setting up (opening a file, a socket, ...). Exit code 1.
class SetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A parameter value (or name) given by the user is not acceptable. Exit code 2.
// The message always names the parameter and says why.
class ParameterError : public std::runtime_error {
 public:
  ParameterError(std::string name, std::string reason)
      : std::runtime_error(name + ": " + reason), name_(std::move(name)), reason_(std::move(reason)) {}
  const std::string& name() const { return name_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string name_;
  std::string reason_;
};

}  // namespace netflowd
