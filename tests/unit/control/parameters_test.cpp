#include "control/parameters.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace netflowd {
namespace {

std::string error_name(std::string_view assignment) {
  Config c;
  try {
    apply_parameter(c, assignment);
  } catch (const ParameterError& e) {
    return e.name();
  }
  return "(accepted)";
}

TEST(Parameters, DefaultsMatchIptNetflow) {
  const Config c;
  EXPECT_EQ(c.protocol, 5);
  EXPECT_EQ(c.active_timeout, 1800u);
  EXPECT_EQ(c.inactive_timeout, 15u);
  EXPECT_EQ(c.maxflows, 2'000'000u);
  EXPECT_EQ(c.refresh_rate, 20u);
  EXPECT_EQ(c.timeout_rate, 30u);
  ASSERT_EQ(c.destinations.size(), 1u);
  EXPECT_EQ(c.destinations[0].to_string(), "127.0.0.1:2055");
}

TEST(Parameters, BothSpellingsAreAccepted) {
  Config c;
  apply_parameter(c, "active-timeout=60");
  apply_parameter(c, "inactive_timeout=5");
  apply_parameter(c, "refresh-rate=7");
  apply_parameter(c, "engine_id=300");
  apply_parameter(c, "maxflows=0");
  apply_parameter(c, "destination=127.0.0.1:9995,[::1]:9996");
  EXPECT_EQ(c.active_timeout, 60u);
  EXPECT_EQ(c.inactive_timeout, 5u);
  EXPECT_EQ(c.refresh_rate, 7u);
  EXPECT_EQ(c.engine_id, 300u);
  EXPECT_EQ(c.maxflows, 0u);
  EXPECT_EQ(c.destinations.size(), 2u);
  apply_parameter(c, "maxflows=-5");
  EXPECT_EQ(c.maxflows, 0u) << "negative means unlimited, as upstream";
}

TEST(Parameters, BadValuesNameTheParameter) {
  EXPECT_EQ(error_name("protocol=7"), "protocol");
  EXPECT_EQ(error_name("active_timeout=abc"), "active_timeout");
  EXPECT_EQ(error_name("active_timeout=0"), "active_timeout");
  EXPECT_EQ(error_name("inactive-timeout=-1"), "inactive_timeout");
  EXPECT_EQ(error_name("hashsize=100"), "hashsize");
  EXPECT_EQ(error_name("maxflows=-x"), "maxflows");
  EXPECT_EQ(error_name("engine_id=4294967296"), "engine_id");
  EXPECT_EQ(error_name("destination=300.1.1.1:2055"), "destination");
  EXPECT_EQ(error_name("nosuch=1"), "nosuch");
  EXPECT_EQ(error_name("justaword"), "justaword");
  EXPECT_EQ(error_name("sampler=random:1"), "sampler");
  EXPECT_EQ(error_name("natevents=2"), "natevents");
  EXPECT_EQ(error_name("scan_min=1"), "scan_min") << "known but not applicable: refused, not ignored";
}

TEST(Parameters, EveryTableEntryIsFoundByBothSpellings) {
  for (const auto& p : parameter_table()) {
    std::string hyphen(p.name);
    std::replace(hyphen.begin(), hyphen.end(), '_', '-');
    EXPECT_EQ(find_parameter(p.name), &p);
    EXPECT_EQ(find_parameter(hyphen), &p);
  }
}

}  // namespace
}  // namespace netflowd

namespace netflowd {
namespace {

TEST(ConfigFile, LinesCommentsAndSpaces) {
  Config c;
  apply_config_text(c, "# netflowd\n\nactive-timeout = 60\r\nprotocol=10   # IPFIX\ndestination=127.0.0.1:9995\n", "f");
  EXPECT_EQ(c.active_timeout, 60u);
  EXPECT_EQ(c.protocol, 10);
  EXPECT_EQ(c.destinations.at(0).port, 9995);
}

TEST(ConfigFile, ErrorsNameFileLineAndParameter) {
  Config c;
  try {
    apply_config_text(c, "protocol=9\n\nmaxflows=lots\n", "/etc/netflowd.conf");
    FAIL() << "accepted a bad value";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.name(), "/etc/netflowd.conf:3: maxflows");
    EXPECT_NE(std::string(e.what()).find("'lots' is not an integer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(apply_config_text(c, "just words\n", "f"), ParameterError);
}

// A NUL or another control byte (DEL too) in a line (a damaged or binary file) is refused with its
// place, as any bad line is. Found by tests/fuzz/config.cpp: a NUL in a parameter name cut the
// message that the file's line was added to, and netflowd aborted at start on an uncaught
// std::out_of_range (a SIGHUP reload logged "basic_string::substr" instead of the reason).
TEST(ConfigFile, ControlCharactersAreRefusedWithTheirPlace) {
  Config c;
  for (const std::string& text :
       {std::string("protocol=9\nprotoc\0ol=9\n", 23), std::string("protocol=9\nmaxflows=1\x01\n"),
        std::string("protocol=9\nmaxflows=1\x7f\n")}) {
    try {
      apply_config_text(c, text, "f");
      FAIL() << "accepted a control character";
    } catch (const ParameterError& e) {
      EXPECT_EQ(e.name(), "f:2");
      const std::string expected = text.find('\0') != std::string::npos     ? "0x00 at column 7"
                                   : text.find('\x7f') != std::string::npos ? "0x7f at column 11"
                                                                            : "0x01 at column 11";
      EXPECT_EQ(e.reason(), "control character " + expected + " (not a text file?)");
    }
  }
  // A tab is not one, and a control byte in a comment is never read.
  apply_config_text(c, "maxflows\t=\t7 # \x01\n", "f");
  EXPECT_EQ(c.maxflows, 7u);
}

// The reason a parameter gives reaches the file's message whole, whatever the name holds.
TEST(ConfigFile, ReasonIsKeptWhole) {
  Config c;
  try {
    apply_config_text(c, "no_such_parameter=1\n", "f");
    FAIL() << "accepted an unknown parameter";
  } catch (const ParameterError& e) {
    EXPECT_EQ(e.name(), "f:1: no_such_parameter");
    EXPECT_EQ(e.reason(), "unknown parameter (see --help)");
    EXPECT_STREQ(e.what(), "f:1: no_such_parameter: unknown parameter (see --help)");
  }
}

}  // namespace
}  // namespace netflowd
