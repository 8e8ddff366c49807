// Headless Chromium driven over the DevTools protocol, for dashboard tests that must act on a
// page (type into a field, click a button) rather than only dump it (chromium.hpp). Chromium
// runs through cascade::process (argument vector, its own process group, SIGTERM then SIGKILL
// on teardown) with --remote-debugging-port=0; the port comes from
// <user-data-dir>/DevToolsActivePort, the page's WebSocket from GET /json/list, and the
// commands go over a Boost.Beast WebSocket. Every wait has a deadline; script errors
// (Runtime.exceptionThrown) and console messages are collected as they arrive.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cascade/http.hpp"
#include "cascade/process.hpp"
#include "chromium.hpp"
#include "support.hpp"

namespace cascade::test {

class ChromiumSession {
 public:
  /// Starts Chromium on about:blank and attaches to its page (Runtime, Page and Log enabled,
  /// so nothing the page does later is missed). Throws std::runtime_error with Chromium's log
  /// when it is missing, does not start, or offers no page within `timeout`.
  explicit ChromiumSession(std::chrono::milliseconds timeout = std::chrono::seconds(60)) : socket_(io_) {
    std::vector<std::string> argv = chromium_argv(profile().string());
    argv.insert(argv.end(), {"--password-store=basic", "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", "about:blank"});
    process::Options options;
    options.env = {{"HOME", dir_.str()}, {"XDG_CONFIG_HOME", (dir_ / "config").string()},
                   {"XDG_CACHE_HOME", (dir_ / "cache").string()}};
    options.cancel = stop_.get_token();  // its own process group: the renderers stop with it
    options.timeout = std::chrono::minutes(30);
    options.output_file = log_path().string();
    runner_ = std::thread([this, argv, options] { (void)process::run(argv, options); });
    try {
      attach(timeout);
    } catch (...) {
      shut_down();
      throw;
    }
  }
  ~ChromiumSession() { shut_down(); }
  ChromiumSession(const ChromiumSession&) = delete;
  ChromiumSession& operator=(const ChromiumSession&) = delete;

  /// Sends one command and returns its result; throws on a protocol error or after `timeout`.
  nlohmann::json command(const std::string& method, const nlohmann::json& params = nlohmann::json::object(),
                         std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    long long id = ++last_id_;
    std::string text = nlohmann::json{{"id", id}, {"method", method}, {"params", params}}.dump();
    finish([&](auto handler) { ws_->async_write(boost::asio::buffer(text), handler); }, timeout, method);
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      nlohmann::json message = read(until, method);
      if (!message.contains("id")) {
        event(message);
        continue;
      }
      if (message["id"] != id) continue;
      if (message.contains("error")) throw std::runtime_error(method + ": " + message["error"].dump());
      return message.value("result", nlohmann::json::object());
    }
  }

  /// Evaluates `expression` in the page (promises awaited, as a user gesture) and returns its
  /// value; throws with the exception's description when it throws.
  nlohmann::json evaluate(const std::string& expression) {
    auto result = command("Runtime.evaluate", {{"expression", expression},
                                               {"awaitPromise", true},
                                               {"returnByValue", true},
                                               {"userGesture", true}});
    if (result.contains("exceptionDetails"))
      throw std::runtime_error("evaluating " + expression + ": " + describe(result["exceptionDetails"]));
    return result["result"].value("value", nlohmann::json());
  }

  /// Loads `url` and waits until its document has loaded.
  void navigate(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto answer = command("Page.navigate", {{"url", url}});
    if (answer.contains("errorText") && !answer["errorText"].get<std::string>().empty())
      throw std::runtime_error("navigating to " + url + ": " + answer["errorText"].get<std::string>());
    wait_for("document.readyState === 'complete' && location.href === " + nlohmann::json(url).dump(), timeout);
  }

  /// Evaluates `expression` every 100 ms until its value is truthy, and returns that value;
  /// throws after `timeout` naming the expression and its last value (or error: a page
  /// being replaced by a navigation may refuse an evaluation meanwhile).
  nlohmann::json wait_for(const std::string& expression, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      nlohmann::json value;
      std::string last;
      try {
        value = evaluate(expression);
        last = value.dump();
      } catch (const std::runtime_error& error) {
        last = error.what();
      }
      bool truthy = !(value.is_null() || value == false || value == 0 || value == "");
      if (truthy) return value;
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("timed out waiting for " + expression + "; last value " + last);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  /// Types `text` into the element `selector` names as a person would: focus, then the text
  /// as one input (the page sees its input event).
  void type(const std::string& selector, const std::string& text) {
    evaluate("(() => { const node = document.querySelector(" + nlohmann::json(selector).dump() +
             "); node.focus(); node.select?.(); return true; })()");
    command("Input.insertText", {{"text", text}});
  }

  /// Clicks the middle of the element `selector` names with the mouse (pressed and released
  /// there, after scrolling it into view); throws when it is missing, disabled, hidden or
  /// covered.
  void click(const std::string& selector) {
    nlohmann::json at = evaluate(
        "(() => { const node = document.querySelector(" + nlohmann::json(selector).dump() +
        "); if (!node) return 'missing'; if (node.disabled) return 'disabled'; node.scrollIntoView({block: 'center'});"
        " const box = node.getBoundingClientRect(); if (!box.width || !box.height) return 'hidden';"
        " const x = box.left + box.width / 2, y = box.top + box.height / 2;"
        " const top = document.elementFromPoint(x, y); if (top !== node && !node.contains(top)) return 'covered';"
        " return {x, y}; })()");
    if (!at.is_object()) throw std::runtime_error("cannot click " + selector + ": " + at.get<std::string>());
    command("Input.dispatchMouseEvent", {{"type", "mouseMoved"}, {"x", at["x"]}, {"y", at["y"]}});
    for (const char* type : {"mousePressed", "mouseReleased"})
      command("Input.dispatchMouseEvent",
              {{"type", type}, {"x", at["x"]}, {"y", at["y"]}, {"button", "left"}, {"clickCount", 1}});
  }

  /// The DOM as it is now (document.documentElement.outerHTML).
  std::string dom() { return evaluate("document.documentElement.outerHTML").get<std::string>(); }

  /// Uncaught script errors so far ("Uncaught TypeError: ..."), in order.
  const std::vector<std::string>& errors() const { return errors_; }
  /// Console messages and log entries so far ("error: ...", "log: ..."), in order.
  const std::vector<std::string>& console() const { return console_; }
  std::string log() const { return read_file(log_path()); }

 private:
  fs::path profile() const { return dir_ / "profile"; }
  fs::path log_path() const { return dir_ / "chromium.log"; }

  // Waits for DevToolsActivePort, finds the page target and opens its WebSocket.
  void attach(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    int port = 0;
    while (port == 0) {
      if (fs::exists(profile() / "DevToolsActivePort")) {
        std::string text = read_file(profile() / "DevToolsActivePort");
        if (auto end = text.find('\n'); end != std::string::npos) port = std::stoi(text.substr(0, end));
      }
      if (port == 0 && std::chrono::steady_clock::now() > until)
        throw std::runtime_error("chromium wrote no DevToolsActivePort:\n" + log());
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string path;
    http::Options options;
    options.hosts["127.0.0.1:" + std::to_string(port)].insecure = true;
    http::Client client(options);
    while (path.empty()) {
      http::Request request;
      request.url = "http://127.0.0.1:" + std::to_string(port) + "/json/list";
      if (auto answer = client.request(std::move(request)); answer && answer->status == 200)
        for (const auto& target : nlohmann::json::parse(answer->body, nullptr, false))
          if (target.is_object() && target.value("type", "") == "page" && target.contains("webSocketDebuggerUrl"))
            path = web_socket_path(target["webSocketDebuggerUrl"].get<std::string>());
      if (path.empty() && std::chrono::steady_clock::now() > until)
        throw std::runtime_error("chromium offers no page on port " + std::to_string(port) + ":\n" + log());
      if (path.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                            static_cast<unsigned short>(port));
    finish([&](auto handler) { socket_.async_connect(endpoint, handler); }, left, "connect");
    ws_.emplace(std::move(socket_));
    ws_->read_message_max(64 * 1024 * 1024);
    std::string host = "127.0.0.1:" + std::to_string(port);
    finish([&](auto handler) { ws_->async_handshake(host, path, handler); }, left, "WebSocket handshake");
    for (const char* domain : {"Runtime.enable", "Page.enable", "Log.enable"}) command(domain);
  }

  // "ws://127.0.0.1:PORT/devtools/page/ID" -> "/devtools/page/ID"
  static std::string web_socket_path(const std::string& url) {
    auto scheme = url.find("://");
    auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    return slash == std::string::npos ? "/" : url.substr(slash);
  }

  // Starts an asynchronous operation with a handler, and runs the io_context until the handler
  // ran or `timeout` passed (then the socket is closed, the operation ends, and this throws).
  template <typename Start>
  void finish(Start start, std::chrono::milliseconds timeout, const std::string& what) {
    std::optional<boost::system::error_code> result;
    start([&result](boost::system::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!result && std::chrono::steady_clock::now() < until) io_.run_one_until(until);
    if (!result) {
      boost::system::error_code ignored;
      if (ws_) ws_->next_layer().close(ignored);
      else socket_.close(ignored);
      io_.restart();
      while (!result) io_.run_one();
      throw std::runtime_error(what + ": no answer from chromium within " + std::to_string(timeout.count()) + " ms");
    }
    if (*result) throw std::runtime_error(what + ": " + result->message());
  }

  nlohmann::json read(std::chrono::steady_clock::time_point until, const std::string& what) {
    boost::beast::flat_buffer buffer;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    finish([&](auto handler) { ws_->async_read(buffer, handler); }, std::max(left, std::chrono::milliseconds(1)), what);
    return nlohmann::json::parse(boost::beast::buffers_to_string(buffer.data()));
  }

  static std::string describe(const nlohmann::json& details) {
    if (details.contains("exception") && details["exception"].contains("description"))
      return details["exception"]["description"].get<std::string>();
    return details.value("text", std::string("an exception"));
  }

  void event(const nlohmann::json& message) {
    std::string method = message.value("method", "");
    const auto& params = message.contains("params") ? message["params"] : nlohmann::json::object();
    if (method == "Runtime.exceptionThrown") {
      errors_.push_back("Uncaught " + describe(params["exceptionDetails"]));
    } else if (method == "Runtime.consoleAPICalled") {
      std::string line = params.value("type", "log") + ":";
      for (const auto& arg : params.value("args", nlohmann::json::array())) {
        if (!arg.contains("value")) line += " " + arg.value("description", arg.value("type", std::string("?")));
        else line += " " + (arg["value"].is_string() ? arg["value"].get<std::string>() : arg["value"].dump());
      }
      console_.push_back(line);
    } else if (method == "Log.entryAdded") {
      const auto& entry = params["entry"];
      console_.push_back(entry.value("level", "log") + ": " + entry.value("text", "") + " " + entry.value("url", ""));
    }
  }

  void shut_down() {
    if (ws_) {
      boost::system::error_code ignored;
      ws_->next_layer().close(ignored);
      ws_.reset();
    }
    stop_.request_stop();  // SIGTERM to its process group, SIGKILL after the grace
    if (runner_.joinable()) runner_.join();
  }

  TempDir dir_;
  CancelSource stop_;
  std::thread runner_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::optional<boost::beast::websocket::stream<boost::asio::ip::tcp::socket>> ws_;
  long long last_id_ = 0;
  std::vector<std::string> errors_;
  std::vector<std::string> console_;
};

}  // namespace cascade::test
