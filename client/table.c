/*
 * Plain text tables for tokens and certs: columns as wide as their widest
 * cell (counted in code points, so Cyrillic labels line up), two spaces
 * apart, the last column unpadded.
 */
#include <stdlib.h>
#include <string.h>

#include "client/cmd.h"

void
table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

int
table_add(struct table *t, const char *const *row)
{
	size_t i;

	if (t->nrows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		char **p;

		if (ncap > SIZE_MAX / sizeof(char *) / t->ncols ||
		    (p = realloc(t->cells, ncap * t->ncols * sizeof(char *))) ==
		    NULL)
			return -1;
		t->cells = p;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		const char *s = row[i] != NULL && row[i][0] != '\0' ?
		    row[i] : "-";
		char *c;

		if ((c = cmd_clean_text(s)) == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
		t->cells[t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
	return 0;
}

void
table_print(const struct table *t, FILE *f)
{
	size_t *w, r, c;

	if ((w = calloc(t->ncols ? t->ncols : 1, sizeof(*w))) == NULL)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t cw = cmd_text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, f);
			if (c + 1 < t->ncols) {
				size_t pad = w[c] - cmd_text_width(s) + 2;
				while (pad-- > 0)
					fputc(' ', f);
			}
		}
		fputc('\n', f);
	}
	free(w);
}

void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
