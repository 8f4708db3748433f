// The one table of parameters: names, defaults, help and validation.
//
// Names are ipt_NETFLOW's; underscore and hyphen spellings are the same parameter
// (active_timeout = active-timeout, refresh-rate = refresh_rate).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "control/config.hpp"

namespace netflowd {

struct ParameterSpec {
  std::string_view name;           // canonical spelling
  std::string_view default_value;  // as a user would write it
  std::string_view help;
  // Applies a textual value to the config; throws ParameterError naming the parameter.
  // nullptr: a known ipt_NETFLOW parameter that this version does not implement yet.
  void (*apply)(Config& config, std::string_view value);
  // The current value as text (what `netflowctl get` shows); nullptr for unimplemented ones.
  std::string (*get)(const Config& config);
  // Can be changed on a running daemon (`netflowctl set`, SIGHUP).
  bool runtime;
  // Why a known parameter is refused (apply == nullptr); empty: not implemented yet.
  std::string_view refusal = {};
};

std::span<const ParameterSpec> parameter_table();

// Finds a parameter by any accepted spelling; nullptr if unknown.
const ParameterSpec* find_parameter(std::string_view name);

// Applies one "name=value" argument. Throws ParameterError (unknown name, bad value,
// not implemented).
void apply_parameter(Config& config, std::string_view assignment);

// Applies a configuration file: one name=value per line, '#' starts a comment, blank lines
// are ignored, spaces around '=' are allowed. Throws ParameterError whose name is
// "FILE:LINE: name". `text` is the file's content.
void apply_config_text(Config& config, std::string_view text, const std::string& file_name);

// The current value of a parameter as text. Throws ParameterError if unknown.
std::string get_parameter(const Config& config, std::string_view name);

// Text for --help: one line per parameter with its default.
std::string parameters_help();

// The parameter reference as a Markdown table (docs/configuration.md embeds it; a test keeps
// the two equal).
std::string parameters_markdown();

}  // namespace netflowd
