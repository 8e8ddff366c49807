// A small expected<T, E>: the value of an operation, or the reason it failed.
// Used for failures a caller is expected to handle (bad input, a missing file);
// exceptions are reserved for the fatal and are caught once, at the top.
// CASCADE_TRY and CASCADE_TRY_ASSIGN pass a failure on to the caller unchanged.
#pragma once

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace cascade {

template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
Unexpected<std::decay_t<E>> unexpected(E&& error) {
  return {std::forward<E>(error)};
}

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  template <typename G>
  Expected(Unexpected<G> failure) : state_(std::in_place_index<1>, E(std::move(failure.error))) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { assert(has_value()); return std::get<0>(state_); }
  const T& value() const& { assert(has_value()); return std::get<0>(state_); }
  T&& value() && { assert(has_value()); return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  E& error() & { assert(!has_value()); return std::get<1>(state_); }
  const E& error() const& { assert(!has_value()); return std::get<1>(state_); }
  E&& error() && { assert(!has_value()); return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, E> state_;
};

/// Expected<void, E>: success carries no value.
template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  Expected() = default;
  template <typename G>
  Expected(Unexpected<G> failure) : failure_(E(std::move(failure.error))), failed_(true) {}

  bool has_value() const { return !failed_; }
  explicit operator bool() const { return has_value(); }
  const E& error() const& { assert(failed_); return failure_; }
  E&& error() && { assert(failed_); return std::move(failure_); }

 private:
  E failure_{};
  bool failed_ = false;
};

}  // namespace cascade

/// CASCADE_TRY(expr): evaluates `expr` (an Expected<T, E>, any T including void); when it
/// failed, returns its error from the enclosing function (which returns Expected<U, F> with
/// F constructible from E). The value, if any, is discarded. Commas inside `expr` are fine.
///
///   CASCADE_TRY(store.put_setting(key, value));
#define CASCADE_TRY(...)                                                                        \
  do {                                                                                          \
    auto&& cascade_try_result_ = (__VA_ARGS__);                                                 \
    if (!cascade_try_result_)                                                                   \
      return ::cascade::unexpected(                                                             \
          ::std::forward<decltype(cascade_try_result_)>(cascade_try_result_).error());          \
  } while (false)

/// CASCADE_TRY_ASSIGN(var, expr): evaluates `expr` (an Expected<T, E>, T not void) once;
/// when it failed, returns its error from the enclosing function like CASCADE_TRY; else
/// puts the value in `var`: a declaration (`auto fields`, `std::string text`; write a type
/// with commas as `auto`) or an existing variable or member. The value is moved out of a
/// temporary Expected and copied out of a named one. (A GNU statement expression.)
///
///   CASCADE_TRY_ASSIGN(auto fields, check_keys(report, node, kSection));
///   CASCADE_TRY_ASSIGN(manifest.config, read_descriptor(json["config"]));
#define CASCADE_TRY_ASSIGN(var, ...) var = CASCADE_TRY_VALUE_(__VA_ARGS__)

// The value of `expr`, or a `return` of its error: the statement expression behind
// CASCADE_TRY_ASSIGN (__extension__ keeps -Wpedantic quiet about the GNU syntax).
#define CASCADE_TRY_VALUE_(...)                                                                 \
  __extension__({                                                                               \
    auto&& cascade_try_result_ = (__VA_ARGS__);                                                 \
    if (!cascade_try_result_)                                                                   \
      return ::cascade::unexpected(                                                             \
          ::std::forward<decltype(cascade_try_result_)>(cascade_try_result_).error());          \
    *::std::forward<decltype(cascade_try_result_)>(cascade_try_result_);                        \
  })
