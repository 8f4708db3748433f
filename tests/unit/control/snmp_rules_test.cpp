#include "control/snmp_rules.hpp"

#include <gtest/gtest.h>

#include "common/error.hpp"

namespace netflowd {
namespace {

TEST(SnmpRules, MapsNamesToBasePlusNumber) {
  const auto rules = SnmpRules::parse("ppp:200,eth:100");
  EXPECT_EQ(rules.map("ppp11", 57), 211u);
  EXPECT_EQ(rules.map("eth0", 2), 100u);
  EXPECT_EQ(rules.map("eth", 2), 100u) << "no digits after the prefix: base + 0";
  EXPECT_EQ(rules.map("wlan0", 9), 9u) << "no rule: the kernel ifIndex";
}

TEST(SnmpRules, FirstMatchingPrefixWins) {
  const auto rules = SnmpRules::parse("e:1000;eth:100");
  EXPECT_EQ(rules.map("eth3", 4), 1000u) << "'e' matches first; 'th3' has no leading digits";
}

TEST(SnmpRules, ParseErrorsAreClear) {
  EXPECT_TRUE(SnmpRules::parse("").empty());
  for (const char* bad : {"ppp", ":100", "ppp:x", "ppp:99999999999"}) {
    try {
      SnmpRules::parse(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ParameterError& e) {
      EXPECT_EQ(e.name(), "snmp_rules");
    }
  }
}

}  // namespace
}  // namespace netflowd
