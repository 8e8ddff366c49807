// `cascade patch` with a docker deploy target on a real dockerd 20.10: the end-to-end bodies
// of deploy_patch_test.cpp (roll out, roll back an unhealthy image and quarantine its digest;
// kill -9 of cascade mid-rollout, then --resume) with dockerd running the workloads. dockerd
// runs the HEALTHCHECKs itself and pulls from the fleet's 127.0.0.1 registry over plain http.
#include <doctest/doctest.h>

#include "dockerd_fixture.hpp"
#include "patch_support.hpp"

using namespace cascade;

namespace cascade::test {
// Defined in deploy_patch_test.cpp; `socket` is the engine's API socket.
void patch_rolls_out_rolls_back_and_quarantines(PatchFleet& fleet, const std::string& target, const std::string& socket);
void patch_kill9_mid_rollout_then_resume(PatchFleet& fleet, const std::string& target, const std::string& socket);
}  // namespace cascade::test

TEST_CASE("patch with a dockerd deploy target: roll out, roll back, quarantine") {
  test::PatchFleet fleet;
  test::DockerEngine dockerd;
  test::patch_rolls_out_rolls_back_and_quarantines(fleet, "dockerd", dockerd.socket());
}

TEST_CASE("patch with a dockerd deploy target: kill -9 during a rollout, then --resume") {
  test::PatchFleet fleet;
  test::DockerEngine dockerd;
  test::patch_kill9_mid_rollout_then_resume(fleet, "dockerd", dockerd.socket());
}
