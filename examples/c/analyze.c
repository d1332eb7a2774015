/*
 * Analyse one image with trueshot's C API and print the verdict, the score
 * and the findings.
 *
 *   cargo build --release --features capi
 *   cc examples/c/analyze.c -Iinclude -Ltarget/release -ltrueshot -o analyze
 *   LD_LIBRARY_PATH=target/release ./analyze claim.jpg
 */
#include <stdio.h>

#include "trueshot.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    trueshot_config *config = trueshot_config_new();
    trueshot_config_set_max_false_alarm(config, 0.01f); /* flag at most 1% of genuine photos */
    trueshot_report *report = NULL;
    trueshot_status status = trueshot_analyze_file(config, argv[1], &report);
    trueshot_config_free(config);
    if (status != TRUESHOT_STATUS_OK) {
        char message[512]; /* says what failed and why */
        trueshot_last_error_message(message, sizeof message);
        fprintf(stderr, "%s: %s\n", argv[1],
                message[0] ? message : trueshot_status_str(status));
        return 1;
    }
    printf("verdict: %s\nscore: %.3f\n", trueshot_verdict_str(trueshot_report_verdict(report)),
           trueshot_report_score(report));
    for (size_t i = 0; i < trueshot_report_finding_count(report); i++) {
        printf("  %.2f %s: %s\n", trueshot_report_finding_score(report, i),
               trueshot_report_finding_code(report, i), trueshot_report_finding_message(report, i));
    }
    trueshot_report_free(report);
    return 0;
}
