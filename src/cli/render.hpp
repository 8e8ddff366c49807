// Rendering of command results: human text, JSON (stable shapes), DOT and Mermaid.
#pragma once

#include <nlohmann/json.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cascade/app.hpp"
#include "cascade/dockerfile.hpp"
#include "cascade/fleet.hpp"
#include "cascade/graph.hpp"

namespace cascade::cli {

/// `text` made harmless for a terminal: \n and \t stay; other C0 controls, DEL, C1 controls
/// (raw or UTF-8 encoded) and bytes that are not UTF-8 are written as \xNN or \u00NN, so
/// escape sequences from build output, argv or image contents ("\x1b]0;evil\x07") cannot
/// reach the terminal. Every human text rendering goes through it; JSON output does not.
std::string terminal_safe(std::string_view text);

/// The familiar short form of a normalized reference ("debian:12"), or the text itself.
std::string familiar(const std::string& image);

/// The graph as JSON text (streamed: fleets have 10,000s of images): {"pipeline", "sources",
/// "images" in build order, "external"}.
std::string graph_json(const fleet::Fleet& fleet);
std::string graph_text(const fleet::Fleet& fleet);
std::string graph_dot(const fleet::Fleet& fleet);
std::string graph_mermaid(const fleet::Fleet& fleet);

using app::AffectedReport;
using app::affected_json;
std::string affected_text(const graph::Graph& graph, const AffectedReport& report);

nlohmann::json dockerfile_json(const std::string& file, const dockerfile::Analysis& analysis);
std::string dockerfile_text(const std::string& file, const dockerfile::Analysis& analysis);

/// Text for the JSON values of app::plan_json, app::run_json and app::runs_json.
std::string plan_text(const nlohmann::json& plan);
std::string run_text(const nlohmann::json& run);
std::string runs_text(const nlohmann::json& runs);

}  // namespace cascade::cli
