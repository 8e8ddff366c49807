// The keep-alive pool: idle connections per endpoint, a cap on open ones, waiters woken in turn.
#include "internal.hpp"

namespace cascade::http::detail {

asio::awaitable<std::unique_ptr<Connection>> Pool::acquire(const std::string& key) {
  Slot& slot = slots_[key];
  for (;;) {
    while (!slot.idle.empty()) {
      std::unique_ptr<Connection> connection = std::move(slot.idle.back());
      slot.idle.pop_back();
      if (Clock::now() - connection->idle_since < idle_timeout_) co_return connection;
      --slot.open;  // too old: the server may have dropped it already
    }
    if (slot.open < cap_) {
      ++slot.open;
      co_return nullptr;
    }
    asio::steady_timer wake(co_await asio::this_coro::executor, Clock::time_point::max());
    slot.waiters.push_back(&wake);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(slot.waiters, &wake);
  }
}

void Pool::release(const std::string& key, std::unique_ptr<Connection> connection) {
  Slot& slot = slots_[key];
  if (connection) {
    connection->idle_since = Clock::now();
    connection->reused = true;
    slot.idle.push_back(std::move(connection));
  } else {
    --slot.open;
  }
  if (!slot.waiters.empty()) {
    asio::steady_timer* waiter = slot.waiters.front();
    slot.waiters.pop_front();
    waiter->cancel();
  }
}

void Pool::clear() {
  for (auto& [key, slot] : slots_) {
    slot.open -= slot.idle.size();
    slot.idle.clear();
  }
}

}  // namespace cascade::http::detail
