// The console's embedded assets and the validators its polling relies on.
// (Its views and security are tested in a real browser: tests/browser.)
#include "orderly/hosts/embedded/console.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace orderly::hosts::embedded {
namespace {

namespace ph = platform::http;

TEST(ConsoleAssets, EveryAssetIsCompiledInWithItsType) {
  for (const char* name : {"index.html", "app.js", "app.css", "favicon.svg"}) {
    const auto* a = find_console_asset(name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_GT(a->body.size(), 100u) << name;
    EXPECT_FALSE(a->content_type.empty()) << name;
  }
  EXPECT_EQ(find_console_asset("../gateway.cpp"), nullptr);
  EXPECT_EQ(find_console_asset(""), nullptr);
}

// The CSP allows no inline script or style, so the page must have none: a
// script without src, an on* handler or a style attribute would be blocked
// in the browser and break the page silently.
TEST(ConsoleAssets, ThePageHasNoInlineScriptStyleOrHandler) {
  const std::string html(find_console_asset("index.html")->body);
  const std::regex script_tag("<script(?![^>]*\\bsrc=)[^>]*>", std::regex::icase);
  EXPECT_FALSE(std::regex_search(html, script_tag));
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+\\s*=", std::regex::icase)));
  EXPECT_FALSE(std::regex_search(html, std::regex("\\sstyle\\s*=", std::regex::icase)));
  EXPECT_EQ(html.find("<style"), std::string::npos);
  // Nothing from elsewhere: every src and href is the console's own or a fragment.
  const std::regex ref("(?:src|href)=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator();
       ++it) {
    const std::string url = (*it)[1];
    EXPECT_TRUE(url.rfind("/console/", 0) == 0 || url.rfind("#", 0) == 0) << url;
  }
  EXPECT_NE(std::string(kConsoleCsp).find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(std::string(kConsoleCsp).find("unsafe"), std::string::npos);
}

TEST(EntityTag, AMatchingIfNoneMatchGets304WithoutABody) {
  ph::Request req;
  req.method = "GET";
  ph::Response res;
  res.body = R"({"items":[]})";
  apply_entity_tag(req, res);
  const auto tag = res.header("ETag");
  ASSERT_TRUE(tag);
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, R"({"items":[]})");

  req.headers["if-none-match"] = *tag;
  ph::Response again;
  again.body = R"({"items":[]})";
  apply_entity_tag(req, again);
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("ETag"), tag);

  ph::Response changed;
  changed.body = R"({"items":[1]})";
  apply_entity_tag(req, changed);
  EXPECT_EQ(changed.status, 200);
  EXPECT_NE(changed.header("ETag"), tag);
}

TEST(EntityTag, OnlySuccessfulReadsGetOne) {
  ph::Request post;
  post.method = "POST";
  ph::Response res;
  res.body = "x";
  apply_entity_tag(post, res);
  EXPECT_FALSE(res.header("ETag"));
  ph::Request get;
  get.method = "GET";
  ph::Response problem;
  problem.status = 404;
  problem.body = "x";
  apply_entity_tag(get, problem);
  EXPECT_FALSE(problem.header("ETag"));
  EXPECT_EQ(problem.status, 404);
}

}  // namespace
}  // namespace orderly::hosts::embedded
