#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "cascade/pipeline.hpp"
#include "pipeline_support.hpp"
#include "cascade/reference.hpp"
#include "support.hpp"

using namespace cascade::pipeline;
using cascade::Expected;

namespace {

namespace fs = std::filesystem;
using cascade::test::TempDir;
using cascade::test::write_file;

const Environment kEnv{"/home/dev", ""};

Expected<Pipeline, Error> parse_text(std::string_view text, const Environment& env = kEnv) {
  return parse(text, "cascade.yaml", "/srv/fleet", env);
}

Pipeline parsed(std::string_view text, const Environment& env = kEnv) {
  auto result = parse_text(text, env);
  if (!result) FAIL(result.error().str());
  return *result;
}

/// The error parse gives; an Error with line -1 when the text parsed.
Error error_for(std::string_view text, const Environment& env = kEnv) {
  auto result = parse_text(text, env);
  if (result) return Error{"cascade.yaml", -1, -1, "parsed without error"};
  return result.error();
}

bool contains(const std::string& text, std::string_view fragment) { return text.find(fragment) != std::string::npos; }

/// A valid file with one source and one recipe; tests append to or change it.
constexpr std::string_view kMinimal = pipeline_test::kHead;

/// kMinimal with one more image recipe line appended inside the recipe (8 spaces).
std::string with_recipe_line(std::string_view line) { return std::string(kMinimal) + "        " + std::string(line) + "\n"; }

}  // namespace

TEST_CASE("pipeline::parse") {
  SUBCASE("the full format") {
    Pipeline pipeline = parsed(R"(version: 1
state: .cascade/state.db
cache: ~/.cache/cascade
registries:
  - host: 127.0.0.1:5000
    insecure: true
  - host: registry.example.com
sources:
  - name: platform
    git: repos/platform
    ref: main
    images:
      - image: registry.example.com/base/debian:12
        dockerfile: debian/Dockerfile
        context: debian
        target: runtime
        build_args: {SUITE: bookworm}
    discover:
      - dockerfiles: "services/*/Dockerfile"
        image: "registry.example.com/apps/{dir}:latest"
        context: "{path}"
        target: final
        build_args:
          VERSION: 3
)");
    CHECK(pipeline.file == "cascade.yaml");
    CHECK(pipeline.directory == "/srv/fleet");
    CHECK(pipeline.version == 1);
    CHECK(pipeline.state == "/srv/fleet/.cascade/state.db");
    CHECK(pipeline.cache == "/home/dev/.cache/cascade");
    REQUIRE(pipeline.registries.size() == 2);
    CHECK(pipeline.registries[0].host == "127.0.0.1:5000");
    CHECK(pipeline.registries[0].insecure);
    CHECK(pipeline.registries[0].mark.line == 5);
    CHECK(pipeline.registries[0].mark.column == 5);
    CHECK(pipeline.registries[1].host == "registry.example.com");
    CHECK_FALSE(pipeline.registries[1].insecure);
    REQUIRE(pipeline.sources.size() == 1);
    const Source& source = pipeline.sources[0];
    CHECK(source.name == "platform");
    CHECK(source.git == "/srv/fleet/repos/platform");
    CHECK_FALSE(source.remote);
    CHECK(source.ref == "main");
    CHECK(source.mark.line == 9);
    CHECK(source.mark.column == 5);
    REQUIRE(source.images.size() == 1);
    const ImageRecipe& recipe = source.images[0];
    CHECK(recipe.image == "registry.example.com/base/debian:12");
    CHECK(recipe.dockerfile == "debian/Dockerfile");
    CHECK(recipe.context == "debian");
    CHECK(recipe.target == "runtime");
    CHECK(recipe.build_args == std::map<std::string, std::string>{{"SUITE", "bookworm"}});
    CHECK(recipe.mark.line == 13);
    CHECK(recipe.mark.column == 9);
    REQUIRE(source.discover.size() == 1);
    const Discover& discover = source.discover[0];
    CHECK(discover.dockerfiles == "services/*/Dockerfile");
    CHECK(discover.image_template == "registry.example.com/apps/{dir}:latest");
    CHECK(discover.context_template == "{path}");
    CHECK(discover.target == "final");
    CHECK(discover.build_args == std::map<std::string, std::string>{{"VERSION", "3"}});
    CHECK(discover.mark.line == 19);
    CHECK(discover.mark.column == 9);
  }
  SUBCASE("defaults") {
    Pipeline pipeline = parsed(kMinimal);
    CHECK(pipeline.state == "/srv/fleet/.cascade/state.db");
    CHECK(pipeline.cache == "/home/dev/.cache/cascade");
    CHECK(pipeline.registries.empty());
    const Source& source = pipeline.sources.at(0);
    CHECK(source.ref == "HEAD");
    CHECK(source.discover.empty());
    const ImageRecipe& recipe = source.images.at(0);
    CHECK(recipe.context == "debian");
    CHECK(recipe.target.empty());
    CHECK(recipe.build_args.empty());
  }
  SUBCASE("the cache follows XDG_CACHE_HOME, then HOME, then the file's folder") {
    CHECK(parsed(kMinimal, {"/home/dev", "/var/cache/dev"}).cache == "/var/cache/dev/cascade");
    CHECK(parsed(kMinimal, {"/home/dev", "relative/cache"}).cache == "/home/dev/.cache/cascade");
    CHECK(parsed(kMinimal, {"", ""}).cache == "/srv/fleet/.cascade/cache");
  }
  SUBCASE("a Dockerfile at the repository root has context '.'") {
    Pipeline pipeline = parsed(R"(version: 1
sources:
  - name: a
    git: a
    images:
      - {image: example.com/a, dockerfile: Dockerfile}
      - {image: example.com/b, dockerfile: b/Dockerfile, context: ""}
      - {image: example.com/c, dockerfile: ./c//Dockerfile, context: ./c/}
)");
    const auto& images = pipeline.sources.at(0).images;
    CHECK(images.at(0).context == ".");
    CHECK(images.at(1).context == ".");
    CHECK(images.at(2).dockerfile == "c/Dockerfile");
    CHECK(images.at(2).context == "c");
  }
  SUBCASE("image references are normalized") {
    Pipeline pipeline = parsed(R"(version: 1
sources:
  - name: a
    git: a
    images:
      - {image: debian, dockerfile: d/Dockerfile}
      - {image: grafana/grafana:11, dockerfile: g/Dockerfile}
      - {image: "localhost:5000/app:dev", dockerfile: l/Dockerfile}
)");
    const auto& images = pipeline.sources.at(0).images;
    CHECK(images.at(0).image == "docker.io/library/debian:latest");
    CHECK(images.at(1).image == "docker.io/grafana/grafana:11");
    CHECK(images.at(2).image == "localhost:5000/app:dev");
  }
  SUBCASE("local git paths resolve against the file's folder; URLs are kept") {
    Pipeline pipeline = parsed(R"(version: 1
sources:
  - {name: rel, git: repos/a/, discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: up, git: ../b, discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: home, git: ~/src/c, discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: abs, git: /opt/d, discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: https, git: "https://git.example.com/e.git", discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: ssh, git: "ssh://git@git.example.com/f.git", discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: scp, git: "git@github.com:org/g.git", discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: file, git: "file:///srv/h.git", discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
  - {name: daemon, git: "git://git.example.com/i.git", discover: [{dockerfiles: "*/Dockerfile", image: "example.com/{dir}"}]}
)");
    const auto& sources = pipeline.sources;
    REQUIRE(sources.size() == 9);
    CHECK(sources[0].git == "/srv/fleet/repos/a");
    CHECK(sources[1].git == "/srv/b");
    CHECK(sources[2].git == "/home/dev/src/c");
    CHECK(sources[3].git == "/opt/d");
    for (int i = 0; i < 4; ++i) CHECK_FALSE(sources[i].remote);
    CHECK(sources[4].git == "https://git.example.com/e.git");
    CHECK(sources[5].git == "ssh://git@git.example.com/f.git");
    CHECK(sources[6].git == "git@github.com:org/g.git");
    CHECK(sources[7].git == "file:///srv/h.git");
    CHECK(sources[8].git == "git://git.example.com/i.git");
    for (int i = 4; i < 9; ++i) CHECK(sources[i].remote);
  }
  SUBCASE("state and cache paths: relative, '~' and absolute") {
    std::string head = "version: 1\nstate: ";
    std::string tail = std::string(kMinimal.substr(kMinimal.find('\n') + 1));
    CHECK(parsed(head + "var/state.db\ncache: cache\n" + tail).state == "/srv/fleet/var/state.db");
    CHECK(parsed(head + "var/state.db\ncache: cache\n" + tail).cache == "/srv/fleet/cache");
    CHECK(parsed(head + "~/state.db\ncache: /tmp/c\n" + tail).state == "/home/dev/state.db");
    CHECK(parsed(head + "~/state.db\ncache: /tmp/c\n" + tail).cache == "/tmp/c");
  }
  SUBCASE("build args keep scalars as written") {
    Pipeline pipeline = parsed(with_recipe_line("build_args: {A: 3, B: yes, C: \"x y\", D: 1.10, E: '', F: 0x1F}"));
    CHECK(pipeline.sources.at(0).images.at(0).build_args ==
          std::map<std::string, std::string>{{"A", "3"}, {"B", "yes"}, {"C", "x y"}, {"D", "1.10"}, {"E", ""}, {"F", "0x1F"}});
  }
  SUBCASE("version may be quoted; several sources and discover-only sources") {
    Pipeline pipeline = parsed(R"(version: "1"
sources:
  - name: a
    git: a
    images: [{image: example.com/a, dockerfile: Dockerfile}]
  - name: b.c_d-e
    git: b
    discover:
      - {dockerfiles: "**/Dockerfile", image: "example.com/{source}/{path}", context: "{path}"}
      - {dockerfiles: "docker/*.dockerfile", image: "example.com/{file}"}
)");
    CHECK(pipeline.sources.size() == 2);
    CHECK(pipeline.sources[1].discover.size() == 2);
  }
  SUBCASE("a template with a placeholder in the domain is not checked as a reference") {
    Pipeline pipeline = parsed(R"(version: 1
sources:
  - name: a
    git: a
    discover: [{dockerfiles: "*/Dockerfile", image: "{source}.example.com/{dir}"}]
)");
    CHECK(pipeline.sources[0].discover[0].image_template == "{source}.example.com/{dir}");
  }
  SUBCASE("a relative directory is made absolute") {
    auto result = parse(kMinimal, "cascade.yaml", "fleet", kEnv);
    REQUIRE(result);
    CHECK(fs::path(result->directory).is_absolute());
    CHECK(result->sources[0].git == result->directory + "/repos/platform");
  }
}

TEST_CASE("pipeline::parse errors") {
  SUBCASE("unknown key, with the closest allowed one suggested") {
    Error error = error_for(with_recipe_line("dockerfiel: x/Dockerfile"));
    CHECK(error.line == 8);
    CHECK(error.column == 9);
    CHECK(error.message ==
          "unknown key 'dockerfiel' in image recipe; did you mean 'dockerfile'? allowed: image, dockerfile, context, "
          "target, build_args, builder, platforms, test");
    CHECK(error.str() == "cascade.yaml:8:9: " + error.message);
  }
  SUBCASE("unknown key without a close match") {
    Error error = error_for(std::string(kMinimal) + "alerts: mail\n");
    CHECK(error.line == 8);
    CHECK(error.column == 1);
    CHECK(error.message ==
          "unknown key 'alerts' in the pipeline file; allowed: version, state, cache, registries, sources, deploy, "
          "max_parallel_deploys, builders, platforms, triggers, test, approval, waves, notify");
    Error builder = error_for(std::string(kMinimal) + "builder: buildah\n");
    CHECK(contains(builder.message, "unknown key 'builder' in the pipeline file; did you mean 'builders'?"));
    Error typo = error_for(std::string(kMinimal) + "registrie: []\n");
    CHECK(contains(typo.message, "did you mean 'registries'?"));
  }
  SUBCASE("unknown keys in a source, a discover entry and a registry") {
    Error source = error_for(std::string(kMinimal) + "    branch: main\n");
    CHECK(source.line == 8);
    CHECK(source.column == 5);
    CHECK(contains(source.message, "unknown key 'branch' in source; allowed: name, git, ref, builder, platforms, test, images, discover"));
    Error discover = error_for(R"(version: 1
sources:
  - name: a
    git: a
    discover:
      - dockerfiles: "*/Dockerfile"
        imgae: "example.com/{dir}"
)");
    CHECK(discover.line == 7);
    CHECK(discover.column == 9);
    CHECK(contains(discover.message, "unknown key 'imgae' in discover entry; did you mean 'image'?"));
    Error registry = error_for(std::string(kMinimal) + "registries:\n  - host: r.io\n    insecur: true\n");
    CHECK(registry.line == 10);
    CHECK(registry.column == 5);
    CHECK(contains(registry.message, "did you mean 'insecure'? allowed: host, insecure"));
  }
  SUBCASE("wrong type") {
    Error images = error_for(R"(version: 1
sources:
  - name: a
    git: a
    images: debian/Dockerfile
)");
    CHECK(images.line == 5);
    CHECK(images.column == 13);
    CHECK(images.message == "'images' must be a list, not a string");
    Error sources = error_for("version: 1\nsources:\n  name: a\n");
    CHECK(sources.line == 3);
    CHECK(sources.column == 3);
    CHECK(sources.message == "'sources' must be a list, not a mapping");
    Error source = error_for("version: 1\nsources:\n  - platform\n");
    CHECK(source.line == 3);
    CHECK(source.column == 5);
    CHECK(contains(source.message, "source must be a mapping with keys name, git, ref, builder, platforms, test, images, discover, not a string"));
    Error args = error_for(with_recipe_line("build_args: [A=1]"));
    CHECK(args.line == 8);
    CHECK(args.column == 21);
    CHECK(args.message == "'build_args' must be a mapping of names to strings, not a list");
    Error arg_value = error_for(with_recipe_line("build_args: {A: [1]}"));
    CHECK(arg_value.line == 8);
    CHECK(arg_value.column == 25);
    CHECK(arg_value.message == "'A' in 'build_args' must be a string, not a list");
    Error target = error_for(with_recipe_line("target: {a: b}"));
    CHECK(target.line == 8);
    CHECK(target.column == 17);
    CHECK(target.message == "'target' must be a string, not a mapping");
    Error top = error_for("- version: 1\n");
    CHECK(top.line == 1);
    CHECK(top.column == 1);
    CHECK(contains(top.message, "the pipeline file must be a mapping with keys version, state, cache"));
  }
  SUBCASE("a key with no value") {
    Error target = error_for(with_recipe_line("target:"));
    CHECK(target.line == 8);
    CHECK(target.column == 9);
    CHECK(target.message == "'target' has no value; give it one or remove the key");
    Error arg = error_for(with_recipe_line("build_args: {A: }"));
    CHECK(arg.line == 8);
    CHECK(arg.column == 22);
    CHECK(arg.message == "'A' in 'build_args' has no value; write A: \"\" for an empty string");
  }
  SUBCASE("booleans are true or false") {
    Error error = error_for(std::string(kMinimal) + "registries:\n  - host: r.io\n    insecure: yes\n");
    CHECK(error.line == 10);
    CHECK(error.column == 15);
    CHECK(error.message == "'insecure' must be true or false (unquoted), not 'yes'");
    CHECK(contains(error_for(std::string(kMinimal) + "registries:\n  - {host: r.io, insecure: \"true\"}\n").message,
                   "must be true or false"));
  }
  SUBCASE("missing required key") {
    Error dockerfile = error_for(R"(version: 1
sources:
  - name: a
    git: a
    images:
      - image: example.com/a
        target: x
)");
    CHECK(dockerfile.line == 6);
    CHECK(dockerfile.column == 9);
    CHECK(dockerfile.message ==
          "missing required key 'dockerfile' in image recipe; add it (allowed: image, dockerfile, context, target, "
          "build_args, builder, platforms, test)");
    Error git = error_for("version: 1\nsources:\n  - name: a\n    images: []\n");
    CHECK(git.line == 3);
    CHECK(git.column == 5);
    CHECK(contains(git.message, "missing required key 'git' in source"));
    Error glob = error_for("version: 1\nsources:\n  - name: a\n    git: a\n    discover:\n      - {image: \"x/{dir}\"}\n");
    CHECK(glob.line == 6);
    CHECK(glob.column == 9);
    CHECK(contains(glob.message, "missing required key 'dockerfiles' in discover entry"));
    Error sources = error_for("version: 1\n");
    CHECK(sources.line == 1);
    CHECK(sources.column == 1);
    CHECK(contains(sources.message, "missing required key 'sources' in the pipeline file"));
  }
  SUBCASE("a source needs images or discover entries") {
    Error error = error_for("version: 1\nsources:\n  - name: a\n    git: a\n    images: []\n");
    CHECK(error.line == 3);
    CHECK(error.column == 5);
    CHECK(error.message ==
          "source 'a' has no recipes: add an 'images' or a 'discover' list with at least one entry");
    CHECK(error_for("version: 1\nsources: []\n").message == "'sources' is empty: list at least one source");
  }
  SUBCASE("source names: format and uniqueness") {
    Error format = error_for("version: 1\nsources:\n  - name: Platform\n    git: a\n");
    CHECK(format.line == 3);
    CHECK(format.column == 11);
    CHECK(contains(format.message, "source name 'Platform' must match [a-z0-9][a-z0-9._-]*"));
    Error duplicate = error_for(std::string(kMinimal) + R"(  - name: platform
    git: other
    images:
      - {image: example.com/other, dockerfile: Dockerfile}
)");
    CHECK(duplicate.line == 8);
    CHECK(duplicate.column == 11);
    CHECK(duplicate.message ==
          "source name 'platform' is already used by the source at line 3; give each source a unique name");
  }
  SUBCASE("two explicit recipes producing the same normalized image") {
    Error same_source = error_for(R"(version: 1
sources:
  - name: a
    git: a
    images:
      - {image: debian, dockerfile: one/Dockerfile}
      - {image: "docker.io/library/debian:latest", dockerfile: two/Dockerfile}
)");
    CHECK(same_source.line == 7);
    CHECK(same_source.column == 9);
    CHECK(same_source.message ==
          "image 'docker.io/library/debian:latest' is already produced by the recipe at line 6; each image must have "
          "one recipe: remove or rename one of them");
    Error other_source = error_for(std::string(kMinimal) + R"(  - name: b
    git: b
    images:
      - image: registry.example.com/base/debian:12
        dockerfile: Dockerfile
)");
    CHECK(other_source.line == 11);
    CHECK(other_source.column == 9);
    CHECK(contains(other_source.message, "already produced by the recipe at line 6 (source 'platform')"));
  }
  SUBCASE("invalid image reference, with reference::parse's reason") {
    std::string bad = "registry.example.com/Base/debian:12";
    auto reason = cascade::reference::parse(bad);
    REQUIRE_FALSE(reason);
    Error error = error_for(R"(version: 1
sources:
  - name: a
    git: a
    images:
      - image: registry.example.com/Base/debian:12
        dockerfile: Dockerfile
)");
    CHECK(error.line == 6);
    CHECK(error.column == 16);
    CHECK(error.message == "invalid image reference '" + bad + "': " + reason.error().message);
  }
  SUBCASE("an image with a digest") {
    std::string digest = "sha256:" + std::string(64, 'a');
    Error error = error_for("version: 1\nsources:\n  - name: a\n    git: a\n    images:\n      - image: debian@" +
                            digest + "\n        dockerfile: Dockerfile\n");
    CHECK(error.line == 6);
    CHECK(error.column == 16);
    CHECK(error.message == "image 'debian@" + digest +
                               "' must not carry a digest: a recipe builds and pushes a tag; remove '@" + digest + "'");
  }
  SUBCASE("repository paths: relative, inside the repository, naming a file") {
    Error absolute = error_for(with_recipe_line("context: /debian"));
    CHECK(absolute.line == 8);
    CHECK(absolute.column == 18);
    CHECK(absolute.message == "'context' must be relative to the repository root: remove the leading '/'");
    Error outside = error_for(with_recipe_line("context: debian/../..").c_str());
    CHECK(outside.line == 8);
    CHECK(outside.message == "'context' must stay inside the repository: remove the '..'");
    Error folder = error_for(R"(version: 1
sources:
  - name: a
    git: a
    images: [{image: example.com/a, dockerfile: "docker/"}]
)");
    CHECK(folder.line == 5);
    CHECK(folder.column == 49);
    CHECK(contains(folder.message, "'dockerfile' must name a file"));
  }
  SUBCASE("bad globs") {
    auto discover = [](std::string_view glob) {
      return error_for("version: 1\nsources:\n  - name: a\n    git: a\n    discover:\n      - dockerfiles: " +
                       std::string(glob) + "\n        image: example.com/{dir}\n");
    };
    Error unclosed = discover("\"app[12/Dockerfile\"");
    CHECK(unclosed.line == 6);
    CHECK(unclosed.column == 22);
    CHECK(unclosed.message == "invalid glob 'app[12/Dockerfile' at character 4: unclosed '[': close the set with ']'");
    Error empty = discover("\"\"");
    CHECK(empty.line == 6);
    CHECK(contains(empty.message, "invalid glob '' at character 1: empty pattern"));
    Error absolute = discover("/services/*/Dockerfile");
    CHECK(contains(absolute.message, "absolute pattern"));
    Error parent = discover("services/../*/Dockerfile");
    CHECK(contains(parent.message, "at character 10: '..' would leave the repository"));
  }
  SUBCASE("bad templates") {
    auto discover = [](std::string_view image, std::string_view extra = "") {
      return error_for("version: 1\nsources:\n  - name: a\n    git: a\n    discover:\n      - dockerfiles: "
                       "services/*/Dockerfile\n        image: " +
                       std::string(image) + "\n" + std::string(extra));
    };
    Error unknown = discover("\"example.com/{foo}\"");
    CHECK(unknown.line == 7);
    CHECK(unknown.column == 16);
    CHECK(unknown.message ==
          "image template 'example.com/{foo}': unknown placeholder '{foo}': use {dir}, {path}, {source} or {file}");
    Error unclosed = discover("\"example.com/{dir\"");
    CHECK(unclosed.line == 7);
    CHECK(contains(unclosed.message, "unclosed '{' at character 13"));
    Error constant = discover("example.com/app:latest");
    CHECK(constant.line == 7);
    CHECK(constant.column == 16);
    CHECK(contains(constant.message, "has no {dir}, {path} or {file} placeholder, so every discovered Dockerfile "
                                     "would produce the same image"));
    CHECK(contains(discover("\"example.com/{source}\"").message, "has no {dir}, {path} or {file} placeholder"));
    Error invalid = discover("\"example.com/Apps/{dir}\"");
    CHECK(invalid.line == 7);
    CHECK(contains(invalid.message, "image template 'example.com/Apps/{dir}' gives 'example.com/Apps/sample' for the "
                                    "matching path 'services/sample/Dockerfile': invalid image reference"));
    CHECK(contains(discover("\"example.com/{dir}@sha256:" + std::string(64, 'a') + "\"").message,
                   "must not carry a digest"));
    Error context = discover("\"example.com/{dir}\"", "        context: \"{path}/../..\"\n");
    CHECK(context.line == 8);
    CHECK(context.column == 18);
    CHECK(context.message == "context template '{path}/../..' gives 'services/sample/../..' for the matching path "
                             "'services/sample/Dockerfile', which must stay inside the repository: remove the '..'");
    Error context_placeholder = discover("\"example.com/{dir}\"", "        context: \"{dri}\"\n");
    CHECK(contains(context_placeholder.message, "context template '{dri}': unknown placeholder '{dri}'"));
  }
  SUBCASE("bad version") {
    Error two = error_for("version: 2\nsources: []\n");
    CHECK(two.line == 1);
    CHECK(two.column == 10);
    CHECK(two.message == "unsupported version '2': this cascade reads 'version: 1'");
    Error missing = error_for("sources: []\n");
    CHECK(missing.line == 1);
    CHECK(missing.column == 1);
    CHECK(contains(missing.message, "missing required key 'version' in the pipeline file"));
    CHECK(contains(error_for("version: [1]\nsources: []\n").message, "unsupported version a list"));
  }
  SUBCASE("YAML syntax errors") {
    Error flow = error_for("version: 1\nsources: [\n  {name: a\n");
    CHECK(flow.line == 4);
    CHECK(flow.column == 1);
    CHECK(contains(flow.message, "invalid YAML: "));
    Error colon = error_for("version: 1\nsources: a: b\n");
    CHECK(colon.line == 2);
    CHECK(colon.column == 11);
    CHECK(colon.message == "invalid YAML: illegal map value");
    Error tab = error_for("version: 1\nsources:\n\t- name: a\n");
    CHECK(tab.line == 3);
    CHECK(contains(tab.message, "indented with a tab: YAML allows only spaces"));
    Error alias = error_for("version: *v\n");
    CHECK(alias.line == 1);
    CHECK(alias.column == 10);
    CHECK(contains(alias.message, "anchor is not defined"));
  }
  SUBCASE("duplicate keys in one mapping") {
    Error top = error_for(std::string(kMinimal) + "version: 1\n");
    CHECK(top.line == 8);
    CHECK(top.column == 1);
    CHECK(top.message == "duplicate key 'version' in the pipeline file (first at line 1); keep only one");
    Error recipe = error_for(with_recipe_line("dockerfile: other/Dockerfile"));
    CHECK(recipe.line == 8);
    CHECK(recipe.column == 9);
    CHECK(recipe.message == "duplicate key 'dockerfile' in image recipe (first at line 7); keep only one");
    Error flow = error_for(with_recipe_line("build_args: {A: 1, B: 2, A: 3}"));
    CHECK(flow.line == 8);
    CHECK(flow.column == 34);
    CHECK(flow.message == "duplicate key 'A' in 'build_args' (first at line 8); keep only one");
  }
  SUBCASE("keys must be plain names") {
    Error error = error_for(std::string(kMinimal) + "[a, b]: 1\n");
    CHECK(error.line == 8);
    CHECK(error.column == 1);
    CHECK(error.message == "keys in the pipeline file must be plain names, not a list");
  }
  SUBCASE("empty file and several documents") {
    Error empty = error_for("# nothing yet\n");
    CHECK(empty.line == 1);
    CHECK(empty.column == 1);
    CHECK(contains(empty.message, "the pipeline file is empty"));
    Error two = error_for(std::string(kMinimal) + "---\nversion: 1\n");
    CHECK(two.line == 9);
    CHECK(two.column == 1);
    CHECK(contains(two.message, "must hold one YAML document"));
    CHECK(parse_text("---\n" + std::string(kMinimal) + "---\n"));
  }
  SUBCASE("streams that never end in yaml-cpp 0.7's LoadAll are syntax errors") {
    // A lone ',' made LoadAll yield empty documents forever (found by fuzz/pipeline.cpp).
    Error comma = error_for(",");
    CHECK(comma.line == 1);
    CHECK(comma.column == 1);
    CHECK(contains(comma.message, "cannot start a YAML value here"));
    Error later = error_for(std::string("# a comment\n,version: 1\n"));
    CHECK(later.line == 2);
    CHECK(contains(later.message, "cannot start a YAML value here"));
  }
  SUBCASE("git locations") {
    auto source = [](std::string_view git, const Environment& env = kEnv) {
      return error_for("version: 1\nsources:\n  - name: a\n    git: " + std::string(git) +
                           "\n    images: [{image: example.com/a, dockerfile: Dockerfile}]\n",
                       env);
    };
    Error scheme = source("ftp://example.com/a.git");
    CHECK(scheme.line == 4);
    CHECK(scheme.column == 10);
    CHECK(contains(scheme.message, "'git': unsupported URL scheme 'ftp'"));
    Error password = source("https://me:hunter2@example.com/a.git");
    CHECK(contains(password.message, "the URL carries a password"));
    CHECK_FALSE(contains(password.message, "hunter2"));
    Error home = source("~/src/a", {"", ""});
    CHECK(home.line == 4);
    CHECK(contains(home.message, "cannot expand '~': HOME is not set"));
    CHECK(contains(source("~other/a").message, "'~user' paths are not supported"));
    CHECK(contains(source("\"\"").message, "'git' must not be empty"));
  }
  SUBCASE("refs that git would read as options") {
    Error error = error_for("version: 1\nsources:\n  - name: a\n    git: a\n    ref: --upload-pack=x\n"
                            "    images: [{image: example.com/a, dockerfile: Dockerfile}]\n");
    CHECK(error.line == 5);
    CHECK(error.column == 10);
    CHECK(error.message == "'ref' must not start with '-': name a branch, tag or commit");
    CHECK(contains(error_for("version: 1\nsources:\n  - name: a\n    git: a\n    ref: \"a b\"\n"
                             "    images: [{image: example.com/a, dockerfile: Dockerfile}]\n")
                       .message,
                   "must not contain spaces"));
  }
  SUBCASE("registries: host form and uniqueness") {
    Error scheme = error_for(std::string(kMinimal) + "registries:\n  - host: https://r.io\n");
    CHECK(scheme.line == 9);
    CHECK(scheme.column == 11);
    CHECK(contains(scheme.message, "must not carry a scheme"));
    Error path = error_for(std::string(kMinimal) + "registries:\n  - host: r.io/team\n");
    CHECK(contains(path.message, "must be host[:port]"));
    Error duplicate = error_for(std::string(kMinimal) + "registries:\n  - host: r.io\n  - host: r.io\n");
    CHECK(duplicate.line == 10);
    CHECK(duplicate.column == 5);
    CHECK(duplicate.message == "registry 'r.io' is already configured at line 9; keep only one entry");
  }
  SUBCASE("build argument names") {
    Error error = error_for(with_recipe_line("build_args: {\"A=1\": x}"));
    CHECK(error.line == 8);
    CHECK(error.column == 22);
    CHECK(error.message == "build argument name 'A=1' must not contain '=' or spaces");
  }
}

TEST_CASE("pipeline::load") {
  TempDir dir;
  SUBCASE("reads the file and resolves paths against its folder") {
    write_file(dir / "conf/cascade.yaml", std::string(kMinimal));
    auto result = load((dir / "conf/cascade.yaml").string());
    REQUIRE(result);
    CHECK(result->file == (dir / "conf/cascade.yaml").string());
    CHECK(result->directory == (dir / "conf").string());
    CHECK(result->sources.at(0).git == (dir / "conf/repos/platform").string());
    CHECK(result->state == (dir / "conf/.cascade/state.db").string());
  }
  SUBCASE("errors name the file") {
    std::string path = (dir / "cascade.yaml").string();
    write_file(path, with_recipe_line("dockerfiel: x"));
    auto result = load(path);
    REQUIRE_FALSE(result);
    CHECK(result.error().file == path);
    CHECK(result.error().str().rfind(path + ":8:9: unknown key 'dockerfiel'", 0) == 0);
  }
  SUBCASE("a missing file") {
    std::string path = (dir / "missing.yaml").string();
    auto result = load(path);
    REQUIRE_FALSE(result);
    CHECK(result.error().line == 0);
    CHECK(result.error().str() == path + ": cannot read the pipeline file: No such file or directory");
  }
  SUBCASE("a path through a file") {
    write_file(dir / "plain", "x");
    std::string path = (dir / "plain/cascade.yaml").string();
    auto result = load(path);
    REQUIRE_FALSE(result);
    CHECK(result.error().str() == path + ": cannot read the pipeline file: Not a directory");
  }
  SUBCASE("a directory") {
    auto result = load(dir.str());
    REQUIRE_FALSE(result);
    CHECK(contains(result.error().message, "it is a directory"));
  }
  SUBCASE("an unreadable file") {
    std::string path = (dir / "locked.yaml").string();
    write_file(path, std::string(kMinimal));
    fs::permissions(path, fs::perms::none);
    std::ifstream probe(path);
    if (probe) {
      MESSAGE("running as root: permissions are not enforced, skipping");
    } else {
      auto result = load(path);
      REQUIRE_FALSE(result);
      CHECK(result.error().message == "cannot read the pipeline file: Permission denied");
    }
  }
}

TEST_CASE("pipeline::Error") {
  SUBCASE("str() gives file:line:column: message, or file: message without a place") {
    CHECK(Error{"p.yaml", 3, 7, "bad"}.str() == "p.yaml:3:7: bad");
    CHECK(Error{"p.yaml", 0, 0, "unreadable"}.str() == "p.yaml: unreadable");
  }
}
