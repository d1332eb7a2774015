// Analyse one image from C++: RAII owners around the C handles, and the
// heatmap read as a borrowed buffer.
//
//   cargo build --release --features capi
//   c++ -std=c++17 examples/cpp/analyze.cpp -Iinclude -Ltarget/release -ltrueshot -o analyze
#include <cstdio>
#include <memory>
#include <string>

#include "trueshot.h"

namespace {
struct ConfigFree {
    void operator()(trueshot_config *c) const { trueshot_config_free(c); }
};
struct ReportFree {
    void operator()(trueshot_report *r) const { trueshot_report_free(r); }
};
using Config = std::unique_ptr<trueshot_config, ConfigFree>;
using Report = std::unique_ptr<trueshot_report, ReportFree>;

std::string last_error() {
    std::string text(trueshot_last_error_message(nullptr, 0), '\0');
    trueshot_last_error_message(text.data(), text.size() + 1);
    return text;
}
}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    Config config(trueshot_config_new());
    if (!config || trueshot_config_set_heatmap(config.get(), true) != TRUESHOT_STATUS_OK) return 1;
    trueshot_report *raw = nullptr;
    trueshot_status status = trueshot_analyze_file(config.get(), argv[1], &raw);
    if (status != TRUESHOT_STATUS_OK) {
        // The message says what failed and why.
        const std::string message = last_error();
        std::fprintf(stderr, "%s\n",
                     message.empty() ? trueshot_status_str(status) : message.c_str());
        return 1;
    }
    Report report(raw);
    std::printf("verdict: %s\nscore: %.3f\n", trueshot_verdict_str(trueshot_report_verdict(report.get())),
                trueshot_report_score(report.get()));
    const uint32_t w = trueshot_report_heatmap_width(report.get());
    const uint32_t h = trueshot_report_heatmap_height(report.get());
    const float *map = trueshot_report_heatmap_data(report.get());
    std::size_t flagged = 0;
    for (std::size_t i = 0; map != nullptr && i < std::size_t{w} * h; ++i) flagged += map[i] >= 0.5f;
    std::printf("heatmap: %ux%u, %zu pixels flagged\n", w, h, flagged);
    return 0;
}
