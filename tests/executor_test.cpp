// The executor's pure helpers: the folder and log file name of an image.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "cascade/executor.hpp"

using cascade::executor::file_name_of;

TEST_CASE("executor::file_name_of") {
  SUBCASE("readable") {
    CHECK(file_name_of("127.0.0.1:5000/apps/shop:1") == "127.0.0.1+5000_apps_shop+1");
    CHECK(file_name_of("r/a_b:1") == "r_a%5Fb+1");
    CHECK(file_name_of("r/a@sha256:ab") == "r_a=sha256+ab");
  }
  SUBCASE("distinct images get distinct names (r/a/b:1 and r/a_b:1 shared a work dir and log)") {
    const std::set<std::string> images = {"r/a/b:1", "r/a_b:1",  "r/a:b:1",   "r/a%5Fb:1", "r/a+b:1", "r/a=b:1",
                                          "r/a:1",   "r/a/1",    "r/a@1",     "r/a_/b:1",  "r/a/_b:1", "r/a%2Fb:1",
                                          "r/a b:1", "r/a\tb:1", "r/..:1",    ".",         "..",       "%2E"};
    std::set<std::string> names;
    for (const auto& image : images) {
      std::string name = file_name_of(image);
      CHECK_MESSAGE(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_+=%") ==
                        std::string::npos,
                    image);
      CHECK(name != ".");
      CHECK(name != "..");
      names.insert(name);
    }
    CHECK(names.size() == images.size());
  }
  SUBCASE("a long reference is bounded and still distinct") {
    std::string repo = "registry.example.com/" + std::string(300, 'a');
    std::string one = file_name_of(repo + ":1");
    std::string two = file_name_of(repo + ":2");
    CHECK(one.size() <= cascade::executor::kMaxFileName);
    CHECK(two.size() <= cascade::executor::kMaxFileName);
    CHECK(one != two);
    CHECK(one.find("%h") == 160);
    CHECK(file_name_of(repo + ":1") == one);  // stable: a resumed run finds its folder again
  }
}
