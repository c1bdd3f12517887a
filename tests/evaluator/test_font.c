/* The built-in font: every printable glyph has ink inside its cell, glyphs are distinct
 * (including the easily confused pairs), unknown bytes draw '?', and drawing/measuring agree. */
#include <string.h>

#include "fer/status.h"
#include "../common/fer_check.h"
#include "fer/font.h"

static int ink(unsigned char c)
{
    const uint8_t *g = fer_font_glyph(c);
    int n = 0;
    for (int r = 0; r < FER_FONT_H; r++)
        for (int b = 0; b < 8; b++)
            n += (g[r] >> b) & 1;
    return n;
}

typedef struct box {
    int n, x0, y0, x1, y1;
} box;

static void plot(void *ctx, int x, int y)
{
    box *b = ctx;
    if (b->n++ == 0) {
        b->x0 = b->x1 = x;
        b->y0 = b->y1 = y;
    }
    b->x0 = x < b->x0 ? x : b->x0;
    b->x1 = x > b->x1 ? x : b->x1;
    b->y0 = y < b->y0 ? y : b->y0;
    b->y1 = y > b->y1 ? y : b->y1;
}

int main(void)
{
    CHECK(ink(' ') == 0);
    for (int c = 33; c < 127; c++) {
        if (ink((unsigned char)c) < 2)
            fprintf(stderr, "glyph '%c' is (nearly) empty\n", c);
        CHECK(ink((unsigned char)c) >= 2);
        for (int d = c + 1; d < 127; d++)
            if (!memcmp(fer_font_glyph((unsigned char)c), fer_font_glyph((unsigned char)d),
                        FER_FONT_H)) {
                fprintf(stderr, "glyphs '%c' and '%c' are identical\n", c, d);
                CHECK(0);
            }
    }
    /* pairs a reader must tell apart differ in several pixels */
    const char *pairs[] = {"O0", "Il", "l1", "I1", "5S", "8B", "2Z", "gq", "rn", "vy", "ce"};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        const uint8_t *a = fer_font_glyph((unsigned char)pairs[i][0]);
        const uint8_t *b = fer_font_glyph((unsigned char)pairs[i][1]);
        int diff = 0;
        for (int r = 0; r < FER_FONT_H; r++)
            diff += __builtin_popcount(a[r] ^ b[r]);
        if (diff < 3)
            fprintf(stderr, "'%c' vs '%c' differ in %d pixels\n", pairs[i][0], pairs[i][1], diff);
        CHECK(diff >= 3);
    }
    /* baseline: capitals and digits end on the same row, descenders go below */
    int base = -1;
    for (int r = FER_FONT_H - 1; r >= 0 && base < 0; r--)
        if (fer_font_glyph('H')[r])
            base = r;
    for (const char *p = "ABEHKMXZ0123456789acemnosuxz"; *p; p++) {
        const uint8_t *g = fer_font_glyph((unsigned char)*p);
        CHECK(g[base] != 0);
        for (int r = base + 1; r < FER_FONT_H; r++)
            CHECK(g[r] == 0);
    }
    for (const char *p = "gjpqy"; *p; p++)
        CHECK(fer_font_glyph((unsigned char)*p)[base + 1] != 0);

    CHECK(fer_font_glyph(200) == fer_font_glyph('?'));
    CHECK(fer_font_glyph(7) == fer_font_glyph('?'));
    CHECK(fer_font_text_width("abc", 1) == 3 * FER_FONT_W);
    CHECK(fer_font_text_width("abc", 2) == 6 * FER_FONT_W);
    CHECK(fer_font_text_width("ab\nabcd", 1) == 4 * FER_FONT_W);
    CHECK(fer_font_text_width("", 1) == 0 && fer_font_text_height(2) == 2 * FER_FONT_H);

    /* drawn pixels stay inside the measured box, scale multiplies the ink */
    box b1 = {0}, b2 = {0};
    fer_font_draw("Hq!", 10, 20, 1, plot, &b1);
    fer_font_draw("Hq!", 10, 20, 2, plot, &b2);
    CHECK(b1.n == ink('H') + ink('q') + ink('!'));
    CHECK(b2.n == 4 * b1.n);
    CHECK(b1.x0 >= 10 && b1.x1 < 10 + fer_font_text_width("Hq!", 1));
    CHECK(b1.y0 >= 20 && b1.y1 < 20 + fer_font_text_height(1));
    CHECK(b2.x1 < 10 + fer_font_text_width("Hq!", 2) && b2.y1 < 20 + fer_font_text_height(2));
    box b3 = {0};
    fer_font_draw("a\nb", 0, 0, 1, plot, &b3);
    CHECK(b3.y1 >= FER_FONT_H); /* the second line is below the first */
    fer_font_draw(NULL, 0, 0, 1, plot, &b3);
    printf("font: all checks passed\n");
    return 0;
}
