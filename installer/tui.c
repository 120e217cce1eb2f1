/* The interactive installer: screens that fill a struct install_config, in
 * the order an operator answers them (keymap, welcome, licence, hardware,
 * disks, SR type, source, root password, network, time zone and NTP), then
 * the summary of the plan, the progress of the engine and the end, with the
 * answer file that repeats the install. Keyboard only, 80x24: a serial
 * terminal's size (vt100, vt220), and so a PC console's 80x25 too. Every screen
 * goes back with Esc; what was typed stays when going back and forth. Each
 * screen's input is checked with install_config_validate() before the next
 * screen; only the summary's Enter lets the engine write. */
#include <crypt.h>
#include <ctype.h>
#include <curses.h>
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "answerfile-write.h"
#include "config.h"
#include "engine.h"
#include "fileio.h"
#include "format.h"
#include "log.h"
#include "macro.h"
#include "pack.h"
#include "plan.h"
#include "process.h"
#include "tui.h"

#define SCREEN_W 80
#define SCREEN_H 24
#define ROW_MESSAGE 22
#define ROW_HELP 23
#define TEXT_MAX 256

/* ---- fields and forms --------------------------------------------------- */

enum field_kind {
        FIELD_LIST,   /* one item chosen from many (or several marked with Space) */
        FIELD_TEXT,   /* a line of input */
        FIELD_CHOICE, /* one of a few options, side by side */
        FIELD_VIEW,   /* text to read, scrolled */
};

struct field {
        enum field_kind kind;
        int y, x, w, h;
        const char *label;
        int label_w;
        char **items;          /* LIST, VIEW */
        size_t n_items;
        size_t *sel;           /* LIST */
        bool *marks;           /* LIST: Space marks items, or NULL */
        size_t top;
        char *buf;             /* TEXT, TEXT_MAX bytes */
        bool hidden;
        const char *const *options; /* CHOICE */
        size_t n_options;
        size_t *choice;
        const size_t *show_if; /* shown only while *show_if == show_value */
        size_t show_value;
        bool show_not;         /* ... or while it is not */
};

enum { FORM_NEXT, FORM_BACK, FORM_QUIT };

struct tui;
struct form {
        const char *title;
        char **text; /* lines under the title, NULL-terminated */
        struct field *fields;
        size_t n_fields;
        size_t focus;
        const char *help;
        void (*draw_extra)(struct tui *t, struct form *f);
};

/* ---- the installer's state ---------------------------------------------- */

struct keymap_entry {
        const char *name, *title;
};
static const struct keymap_entry keymaps[] = {
        {"us", "US English"}, {"uk", "British English"}, {"de", "German"}, {"de-latin1", "German (latin1)"},
        {"fr", "French"}, {"fr-latin9", "French (latin9)"}, {"be-latin1", "Belgian"}, {"es", "Spanish"},
        {"it", "Italian"}, {"pt-latin1", "Portuguese"}, {"br-abnt2", "Brazilian (ABNT2)"},
        {"fr_CH", "Swiss French"}, {"sg", "Swiss German"}, {"nl", "Dutch"}, {"dk", "Danish"},
        {"no", "Norwegian"}, {"se-lat6", "Swedish"}, {"fi", "Finnish"}, {"pl", "Polish"}, {"cz", "Czech"},
        {"hu", "Hungarian"}, {"ru", "Russian"}, {"jp106", "Japanese (106 keys)"}, {"dvorak", "Dvorak"},
};

static const char *const welcome_options[] = {"Install xenhost", "Upgrade the installed xenhost",
                                              "Restore the previous version"};
static const char *const licence_options[] = {"Accept", "Decline"};
static const char *const sr_options[] = {"LVM", "EXT"};
static const char *const source_options[] = {"This media", "HTTP or FTP URL", "NFS"};
static const char *const proto_options[] = {"DHCP", "Static"};
static const char *const ntp_options[] = {"From DHCP", "Default pool", "These servers"};

struct tui {
        const struct install_env *env;
        struct install_config *cfg;
        struct install_facts *facts;
        bool in_installer;
        char msg[512];
        char bad_field[64];    /* the config field config_check() found wrong */
        char **offered;        /* disk paths from TUI_DISKS_ENV */
        /* what was chosen and typed, kept across Esc */
        size_t keymap_sel, n_keymaps;
        char **keymap_items;
        const struct keymap_entry **keymap_of;
        size_t welcome, licence, sr, source, proto, ntp;
        size_t n_welcome;
        char **welcome_items;
        const char *xenhost_disk;
        size_t primary;
        bool *extra;
        size_t n_disk_items;
        char **disk_items;
        char url[TEXT_MAX];
        char pw1[TEXT_MAX], pw2[TEXT_MAX];
        size_t nic;
        char **nic_items;
        char ip[TEXT_MAX], mask[TEXT_MAX], gw[TEXT_MAX], hostname[TEXT_MAX], dns[TEXT_MAX];
        char **regions, **cities;
        size_t region, city;
        char *cities_of;       /* the region CITIES lists */
        char ntp_servers[TEXT_MAX];
        /* the packs the media carry (packs/), and one more by URL */
        char **pack_files;     /* file names in packs/ */
        char **pack_items;     /* what each says it is, or why it cannot be read */
        char **pack_names;     /* "name version", NULL when unreadable */
        char **pack_desc;      /* its description */
        bool *pack_marks;
        size_t n_media_packs, pack_sel;
        char pack_url[TEXT_MAX];
        /* the install */
        struct install_plan *plan;
        int progress_percent;
        char progress_title[128];
        char progress_bytes[64];
        char *failure;         /* "step S: reason" when the install failed */
        FILE *screen_out;
        int saved_out, saved_err;
};

static void strv_free_all(char **l) {
        for (char **p = l; p && *p; p++)
                free(*p);
        free(l);
}

static int strv_push(char ***l, size_t *n, char *s) {
        if (!s)
                return -ENOMEM;
        char **nl = reallocarray(*l, *n + 2, sizeof *nl);
        if (!nl) {
                free(s);
                return -ENOMEM;
        }
        nl[(*n)++] = s;
        nl[*n] = NULL;
        *l = nl;
        return 0;
}

static char *strf(const char *fmt, ...) _printf_(1, 2);
static char *strf(const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static void message(struct tui *t, const char *fmt, ...) _printf_(2, 3);
static void message(struct tui *t, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->msg, sizeof t->msg, fmt, ap);
        va_end(ap);
}

/* Text broken into lines of at most W columns, at spaces. */
static int wrap(const char *text, int w, char ***lines, size_t *n) {
        const char *s = text;
        while (*s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t) (nl - s) : strlen(s);
                if (len > (size_t) w) {
                        size_t cut = (size_t) w;
                        while (cut > 0 && s[cut] != ' ')
                                cut--;
                        if (cut == 0)
                                cut = (size_t) w;
                        len = cut;
                }
                if (strv_push(lines, n, strndup(s, len)) < 0)
                        return -ENOMEM;
                s += len;
                if (*s == ' ' || *s == '\n')
                        s++;
        }
        return 0;
}

/* ---- drawing ------------------------------------------------------------ */

static void put(int y, int x, int w, const char *s) {
        if (y < 0 || y >= SCREEN_H)
                return;
        mvprintw(y, x, "%-*.*s", w, w, s ?: "");
}

static bool field_shown(const struct field *f) {
        return !f->show_if || (*f->show_if == f->show_value) != f->show_not;
}

static void field_scroll(struct field *f) {
        if (f->kind == FIELD_LIST && f->sel) {
                if (*f->sel < f->top)
                        f->top = *f->sel;
                if (*f->sel >= f->top + (size_t) f->h)
                        f->top = *f->sel - (size_t) f->h + 1;
        }
        if (f->kind == FIELD_VIEW && f->n_items > (size_t) f->h && f->top > f->n_items - (size_t) f->h)
                f->top = f->n_items - (size_t) f->h;
}

static void draw_field(struct field *f, bool focused) {
        char line[SCREEN_W + 1];
        switch (f->kind) {
        case FIELD_TEXT: {
                put(f->y, f->x, f->label_w, f->label);
                size_t len = strlen(f->buf), w = (size_t) f->w - 2;
                const char *shown = len > w ? f->buf + len - w : f->buf;
                if (f->hidden) {
                        size_t n = strlen(shown);
                        memset(line, '*', n);
                        line[n] = 0;
                        shown = line;
                }
                mvaddch(f->y, f->x + f->label_w, '[');
                if (focused)
                        attron(A_REVERSE);
                put(f->y, f->x + f->label_w + 1, f->w - 2, shown);
                if (focused)
                        attroff(A_REVERSE);
                addch(']');
                break;
        }
        case FIELD_CHOICE: {
                put(f->y, f->x, f->label_w, f->label);
                move(f->y, f->x + f->label_w);
                for (size_t i = 0; i < f->n_options; i++) {
                        bool on = *f->choice == i;
                        printw("(%c) ", on ? '*' : ' ');
                        if (on && focused)
                                attron(A_REVERSE);
                        printw("%s", f->options[i]);
                        if (on && focused)
                                attroff(A_REVERSE);
                        printw("   ");
                }
                break;
        }
        case FIELD_LIST:
        case FIELD_VIEW:
                field_scroll(f);
                if (f->label)
                        put(f->y - 1, f->x, f->w, f->label);
                for (int r = 0; r < f->h; r++) {
                        size_t i = f->top + (size_t) r;
                        if (i >= f->n_items) {
                                put(f->y + r, f->x, f->w, "");
                                continue;
                        }
                        bool cur = f->kind == FIELD_LIST && *f->sel == i;
                        if (f->kind == FIELD_LIST)
                                snprintf(line, sizeof line, "%s%s%s", cur ? "> " : "  ",
                                         f->marks ? (f->marks[i] ? "[x] " : "[ ] ") : "", f->items[i]);
                        else
                                snprintf(line, sizeof line, "%s", f->items[i]);
                        if (cur && focused)
                                attron(A_REVERSE);
                        put(f->y + r, f->x, f->w, line);
                        if (cur && focused)
                                attroff(A_REVERSE);
                }
                /* More than fits: say so at the right edge. */
                if (f->top > 0)
                        mvaddch(f->y, f->x + f->w - 1, '^');
                if (f->top + (size_t) f->h < f->n_items)
                        mvaddch(f->y + f->h - 1, f->x + f->w - 1, 'v');
                break;
        }
}

static void draw_frame(struct tui *t, const char *title) {
        char head[SCREEN_W + 1];
        erase();
        snprintf(head, sizeof head, " xenhost %s installer",
                 t->facts && t->facts->has_image && t->facts->image.version ? t->facts->image.version : "");
        attron(A_REVERSE);
        put(0, 0, SCREEN_W, head);
        attroff(A_REVERSE);
        attron(A_BOLD);
        put(2, 2, SCREEN_W - 4, title);
        attroff(A_BOLD);
}

static bool screen_too_small(void) {
        if (LINES >= SCREEN_H && COLS >= SCREEN_W)
                return false;
        erase();
        mvprintw(0, 0, "The terminal is %dx%d;", COLS, LINES);
        mvprintw(1, 0, "the installer needs %dx%d.", SCREEN_W, SCREEN_H);
        refresh();
        return true;
}

static void draw_form(struct tui *t, struct form *f) {
        if (screen_too_small())
                return;
        draw_frame(t, f->title);
        for (size_t i = 0; f->text && f->text[i]; i++)
                put(4 + (int) i, 2, SCREEN_W - 4, f->text[i]);
        for (size_t i = 0; i < f->n_fields; i++)
                if (field_shown(&f->fields[i]))
                        draw_field(&f->fields[i], i == f->focus);
        if (f->draw_extra)
                f->draw_extra(t, f);
        if (t->msg[0]) {
                /* Two lines at most, the second ending the message. */
                char **l = NULL;
                size_t n = 0;
                attron(A_BOLD);
                if (wrap(t->msg, SCREEN_W - 4, &l, &n) == 0 && n > 1) {
                        put(ROW_MESSAGE - 1, 2, SCREEN_W - 4, l[0]);
                        put(ROW_MESSAGE, 2, SCREEN_W - 4, t->msg + strlen(l[0]) + 1);
                } else
                        put(ROW_MESSAGE, 2, SCREEN_W - 4, t->msg);
                attroff(A_BOLD);
                strv_free_all(l);
        }
        put(ROW_HELP, 0, SCREEN_W, f->help ?: " Tab: next field   Enter: continue   Esc: back   F10: quit");
        struct field *cf = f->n_fields ? &f->fields[f->focus] : NULL;
        if (cf && cf->kind == FIELD_TEXT) {
                size_t len = strlen(cf->buf), w = (size_t) cf->w - 2;
                curs_set(1);
                move(cf->y, cf->x + cf->label_w + 1 + (int) (len > w ? w : len));
        } else
                curs_set(0);
        refresh();
}

static void focus_move(struct form *f, int dir) {
        for (size_t n = 0; n < f->n_fields; n++) {
                f->focus = (f->focus + f->n_fields + (size_t) dir) % f->n_fields;
                if (field_shown(&f->fields[f->focus]))
                        return;
        }
}

/* Shows F and reads keys until Enter (FORM_NEXT), Esc (FORM_BACK) or F10 /
 * Ctrl-C (FORM_QUIT). */
static int form_run(struct tui *t, struct form *f) {
        if (f->n_fields && !field_shown(&f->fields[f->focus]))
                focus_move(f, 1);
        for (;;) {
                draw_form(t, f);
                int ch = getch();
                struct field *cf = f->n_fields ? &f->fields[f->focus] : NULL;
                switch (ch) {
                case ERR:
                case KEY_RESIZE:
                        continue;
                case 27:
                        return FORM_BACK;
                case KEY_F(10):
                case 3: /* Ctrl-C */
                        return FORM_QUIT;
                case '\n':
                case '\r':
                case KEY_ENTER:
                        return FORM_NEXT;
                case '\t':
                        focus_move(f, 1);
                        continue;
                case KEY_BTAB:
                        focus_move(f, -1);
                        continue;
                }
                if (!cf)
                        continue;
                switch (cf->kind) {
                case FIELD_LIST: {
                        size_t n = cf->n_items;
                        if (n == 0) {
                                if (ch == KEY_UP)
                                        focus_move(f, -1);
                                else if (ch == KEY_DOWN)
                                        focus_move(f, 1);
                                break;
                        }
                        if (ch == KEY_UP && *cf->sel > 0)
                                (*cf->sel)--;
                        else if (ch == KEY_DOWN && *cf->sel + 1 < n)
                                (*cf->sel)++;
                        else if (ch == KEY_PPAGE)
                                *cf->sel = *cf->sel > (size_t) cf->h ? *cf->sel - (size_t) cf->h : 0;
                        else if (ch == KEY_NPAGE)
                                *cf->sel = *cf->sel + (size_t) cf->h < n ? *cf->sel + (size_t) cf->h : n - 1;
                        /* On a vt220 (a serial console) Home and End come
                         * as the Find and Select keys they sit where. */
                        else if (ch == KEY_HOME || ch == KEY_FIND)
                                *cf->sel = 0;
                        else if (ch == KEY_END || ch == KEY_SELECT)
                                *cf->sel = n - 1;
                        else if (ch == ' ' && cf->marks)
                                cf->marks[*cf->sel] = !cf->marks[*cf->sel];
                        else if (ch > ' ' && ch < 127) {
                                /* Jump to the next item starting with the letter. */
                                for (size_t k = 1; k <= n; k++) {
                                        size_t i = (*cf->sel + k) % n;
                                        if (tolower((unsigned char) cf->items[i][0]) == tolower(ch)) {
                                                *cf->sel = i;
                                                break;
                                        }
                                }
                        }
                        break;
                }
                case FIELD_VIEW:
                        if (ch == KEY_UP && cf->top > 0)
                                cf->top--;
                        else if (ch == KEY_DOWN && cf->top + (size_t) cf->h < cf->n_items)
                                cf->top++;
                        else if (ch == KEY_PPAGE)
                                cf->top = cf->top > (size_t) cf->h ? cf->top - (size_t) cf->h : 0;
                        else if (ch == KEY_NPAGE || ch == ' ')
                                cf->top += (size_t) cf->h;
                        break;
                case FIELD_TEXT: {
                        size_t len = strlen(cf->buf);
                        if (ch == KEY_UP)
                                focus_move(f, -1);
                        else if (ch == KEY_DOWN)
                                focus_move(f, 1);
                        else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len > 0)
                                cf->buf[len - 1] = 0;
                        else if (ch == 21) /* Ctrl-U */
                                cf->buf[0] = 0;
                        else if (ch >= ' ' && ch < 127 && len + 1 < TEXT_MAX) {
                                cf->buf[len] = (char) ch;
                                cf->buf[len + 1] = 0;
                        }
                        break;
                }
                case FIELD_CHOICE:
                        if (ch == KEY_UP)
                                focus_move(f, -1);
                        else if (ch == KEY_DOWN)
                                focus_move(f, 1);
                        else if (ch == KEY_LEFT)
                                *cf->choice = (*cf->choice + cf->n_options - 1) % cf->n_options;
                        else if (ch == KEY_RIGHT || ch == ' ')
                                *cf->choice = (*cf->choice + 1) % cf->n_options;
                        break;
                }
        }
}

/* ---- validation: the config's own checks, for the fields of a screen ----- */

/* The first error install_config_validate() finds in a field starting with
 * one of PREFIXES (warnings too when WARNINGS), into t->msg. */
static bool config_check(struct tui *t, const char *const *prefixes, bool warnings) {
        struct config_problems p = {};
        bool bad = false;
        (void) install_config_validate(t->cfg, &p);
        for (size_t i = 0; i < p.n && !bad; i++) {
                if (p.items[i].warning && !warnings)
                        continue;
                for (const char *const *pf = prefixes; *pf; pf++)
                        if (startswith(p.items[i].field, *pf)) {
                                message(t, "%s", p.items[i].message);
                                snprintf(t->bad_field, sizeof t->bad_field, "%s", p.items[i].field);
                                bad = true;
                                break;
                        }
        }
        config_problems_done(&p);
        return !bad;
}

static int set_str(char **target, const char *value) {
        char *s = value && *value ? strdup(value) : NULL;
        if (value && *value && !s)
                return -ENOMEM;
        free(*target);
        *target = s;
        return 0;
}

/* "a, b c" into a list */
static int set_list(char ***target, const char *text) {
        char **l = NULL;
        size_t n = 0;
        const char *s = text;
        while (*s) {
                s += strspn(s, ", ");
                size_t len = strcspn(s, ", ");
                if (len && strv_push(&l, &n, strndup(s, len)) < 0) {
                        strv_free_all(l);
                        return -ENOMEM;
                }
                s += len;
        }
        strv_free_all(*target);
        *target = l;
        return 0;
}

/* ---- the screens ---------------------------------------------------------- */

enum screen_result { SCREEN_NEXT, SCREEN_BACK, SCREEN_QUIT, SCREEN_DONE };

static int form_result(int r) {
        return r == FORM_BACK ? SCREEN_BACK : r == FORM_QUIT ? SCREEN_QUIT : SCREEN_NEXT;
}

static int screen_keymap(struct tui *t) {
        struct field fl = {.kind = FIELD_LIST, .y = 7, .x = 4, .w = 50, .h = 12, .items = t->keymap_items,
                           .n_items = t->n_keymaps, .sel = &t->keymap_sel};
        char *text[] = {"Choose the keyboard layout.", NULL};
        struct form f = {.title = "Keyboard", .text = text, .fields = &fl, .n_fields = 1};
        for (;;) {
                int r = form_run(t, &f);
                if (r == FORM_BACK) {
                        message(t, "This is the first screen: F10 leaves the installer.");
                        continue;
                }
                if (r != FORM_NEXT)
                        return form_result(r);
                const char *name = t->keymap_of[t->keymap_sel]->name;
                if (set_str(&t->cfg->keymap, name) < 0)
                        return -ENOMEM;
                /* Load it at once in the installer, where the operator types. */
                if (t->in_installer && spawn_run((const char *[]) {"loadkeys", name, NULL}, NULL) < 0)
                        log_info("loadkeys %s failed: %s", name, spawn_last_error());
                return SCREEN_NEXT;
        }
}

static int screen_welcome(struct tui *t) {
        struct field fl = {.kind = FIELD_LIST, .y = 9, .x = 4, .w = 60, .h = 3, .items = t->welcome_items,
                           .n_items = t->n_welcome, .sel = &t->welcome};
        _cleanup_free_ char *found = t->xenhost_disk ? strf("A xenhost installation was found on %s.",
                                                             t->xenhost_disk) : NULL;
        char *text[] = {"Welcome to the xenhost installer.", "",
                        found ?: "xenhost installs onto a disk of this machine.", NULL};
        struct form f = {.title = "Welcome", .text = text, .fields = &fl, .n_fields = 1};
        int r = form_run(t, &f);
        if (r != FORM_NEXT)
                return form_result(r);
        t->cfg->mode = t->welcome == 1 ? INSTALL_MODE_UPGRADE : t->welcome == 2 ? INSTALL_MODE_RESTORE
                                                                                  : INSTALL_MODE_FRESH;
        /* An upgrade or a restore keeps the host's own keymap. */
        if (install_mode_keeps_host(t->cfg->mode) && set_str(&t->cfg->keymap, NULL) < 0)
                return -ENOMEM;
        if (set_str(&t->cfg->existing_installation, t->welcome == 1 ? t->xenhost_disk : NULL) < 0 ||
            set_str(&t->cfg->backup_disk, t->welcome == 2 ? t->xenhost_disk : NULL) < 0)
                return -ENOMEM;
        return SCREEN_NEXT;
}

static const char licence_text[] =
        "xenhost is free software. The host image is made of the Xen hypervisor (GNU GPL version 2), the "
        "Linux kernel (GNU GPL version 2) and Debian packages, each under its own licence; their texts are "
        "on the installed host in /usr/share/doc/*/copyright and /usr/share/common-licenses.\n"
        "\n"
        "The software comes WITHOUT ANY WARRANTY, to the extent permitted by law. Installing it erases the "
        "disks you choose; you are asked to confirm them before anything is written.\n"
        "\n"
        "Accept the licences to install.";

static int screen_licence(struct tui *t) {
        char **lines = NULL;
        size_t n = 0;
        if (wrap(licence_text, SCREEN_W - 8, &lines, &n) < 0)
                return -ENOMEM;
        struct field fs[] = {
                {.kind = FIELD_VIEW, .y = 4, .x = 4, .w = SCREEN_W - 8, .h = 13, .items = lines, .n_items = n},
                {.kind = FIELD_CHOICE, .y = 19, .x = 4, .label = "Licence: ", .label_w = 9, .options = licence_options,
                 .n_options = 2, .choice = &t->licence},
        };
        struct form f = {.title = "Licence", .fields = fs, .n_fields = 2, .focus = 1,
                         .help = " Left/Right: accept or decline   Enter: continue   Esc: back   F10: quit"};
        int r;
        for (;;) {
                r = form_run(t, &f);
                if (r == FORM_NEXT && t->licence != 0) {
                        message(t, "xenhost cannot be installed unless the licence is accepted.");
                        continue;
                }
                break;
        }
        strv_free_all(lines);
        return form_result(r);
}

static int push_wrapped(char ***l, size_t *n, const char *indent, char *text) {
        if (!text)
                return -ENOMEM;
        char **w = NULL;
        size_t nw = 0;
        int r = wrap(text, SCREEN_W - 8 - (int) strlen(indent), &w, &nw);
        free(text);
        for (size_t i = 0; r == 0 && i < nw; i++)
                r = strv_push(l, n, strf("%s%s", i ? "    " : indent, w[i]));
        strv_free_all(w);
        return r;
}

static int screen_hardware(struct tui *t) {
        const struct install_facts *fa = t->facts;
        char **lines = NULL, s[32];
        size_t n = 0;
        int r = 0;
        if (!fa->cpu_virtualization)
                r = r ?: strv_push(&lines, &n, strdup("! The processor shows no virtualization extensions (VT-x or "
                                                      "AMD-V): only paravirtualized guests will run. Check the "
                                                      "firmware settings."));
        if (fa->memory_bytes < 2 * GiB)
                r = r ?: strv_push(&lines, &n, strf("! The machine has %s of memory: xenhost needs 1 GiB, and "
                                                     "guests need more.",
                                                     format_iec(s, sizeof s, fa->memory_bytes)));
        for (size_t i = 0; i < fa->n_disks; i++)
                if (fa->disks[i].size_bytes < 46 * GB)
                        r = r ?: strv_push(&lines, &n, strf("! %s is %s, below 46 GB: installed on it, xenhost "
                                                             "uses the compact layout (no separate logs and swap).",
                                                             fa->disks[i].path,
                                                             format_si(s, sizeof s, fa->disks[i].size_bytes)));
        if (r == 0 && n == 0)
                r = strv_push(&lines, &n, strdup("No hardware problem found."));
        char **wrapped = NULL;
        size_t nw = 0;
        for (size_t i = 0; r == 0 && i < n; i++) {
                r = push_wrapped(&wrapped, &nw, "", strdup(lines[i]));
                if (r == 0 && i + 1 < n)
                        r = strv_push(&wrapped, &nw, strdup(""));
        }
        strv_free_all(lines);
        if (r < 0) {
                strv_free_all(wrapped);
                return r;
        }
        struct field fl = {.kind = FIELD_VIEW, .y = 4, .x = 4, .w = SCREEN_W - 8, .h = 16, .items = wrapped,
                           .n_items = nw};
        struct form f = {.title = "Hardware", .fields = &fl, .n_fields = 1};
        r = form_run(t, &f);
        strv_free_all(wrapped);
        return form_result(r);
}

static char *disk_holds(const struct disk_facts *d) {
        if (d->is_xenhost)
                return strf("xenhost %s%s", d->installed_version ?: "(version unknown)", d->sr_uuid ? " and its SR" : "");
        if (d->pttype)
                return strf("%s partition table, %u partition%s", d->pttype, d->n_partitions,
                            d->n_partitions == 1 ? "" : "s");
        if (d->signature)
                return strf("%s file system", d->signature);
        return strdup("blank");
}

static const char *disk_short(const char *path) {
        return startswith(path, "/dev/") ? path + 5 : path;
}

static void disks_detail(struct tui *t, struct form *f) {
        const struct disk_facts *d;
        if (t->facts->n_disks == 0)
                return;
        size_t i = f->focus == 0 ? t->primary : *f->fields[1].sel;
        d = &t->facts->disks[i];
        _cleanup_free_ char *holds = disk_holds(d);
        char s[32], line[SCREEN_W + 1];
        snprintf(line, sizeof line, "%s: %s, %s", d->path, format_si(s, sizeof s, d->size_bytes), d->model ?: "no model");
        put(12, 4, SCREEN_W - 6, line);
        snprintf(line, sizeof line, "  serial %s, %s", d->serial ?: "none", d->by_id ?: "no by-id name");
        put(13, 4, SCREEN_W - 6, line);
        snprintf(line, sizeof line, "  holds: %s", holds ?: "?");
        put(14, 4, SCREEN_W - 6, line);
}

static int screen_disks(struct tui *t) {
        size_t extra_sel = 0;
        struct field fs[] = {
                {.kind = FIELD_LIST, .y = 6, .x = 4, .w = SCREEN_W - 8, .h = 5, .items = t->disk_items,
                 .n_items = t->n_disk_items, .sel = &t->primary, .label = "Primary disk (xenhost and the local SR):"},
                {.kind = FIELD_LIST, .y = 17, .x = 4, .w = SCREEN_W - 8, .h = 4, .items = t->disk_items,
                 .n_items = t->n_disk_items, .sel = &extra_sel, .marks = t->extra,
                 .label = "Extra disks for the SR (Space marks):"},
        };
        char *text[] = {"Every disk chosen here is erased when you confirm the summary.", NULL};
        struct form f = {.title = "Disks", .text = text, .fields = fs, .n_fields = 2, .draw_extra = disks_detail};
        if (t->n_disk_items == 0)
                message(t, t->in_installer ? "No disk was found to install on."
                                           : "No disk offered: outside the installer, name loop devices in "
                                             TUI_DISKS_ENV ".");
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                if (t->n_disk_items == 0)
                        continue;
                if (t->extra[t->primary]) {
                        message(t, "%s is the primary disk: it cannot be an extra SR disk too.",
                                t->facts->disks[t->primary].path);
                        continue;
                }
                if (set_str(&t->cfg->primary_disk, t->facts->disks[t->primary].path) < 0)
                        return -ENOMEM;
                strv_free_all(t->cfg->guest_disks);
                t->cfg->guest_disks = NULL;
                for (size_t i = 0; i < t->n_disk_items; i++)
                        if (t->extra[i] && install_config_add_guest_disk(t->cfg, t->facts->disks[i].path) < 0)
                                return -ENOMEM;
                if (!config_check(t, (const char *const[]) {"primary_disk", "guest_disks", NULL}, false))
                        continue;
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

static int screen_sr(struct tui *t) {
        struct field fl = {.kind = FIELD_CHOICE, .y = 10, .x = 4, .label = "SR type: ", .label_w = 9,
                           .options = sr_options, .n_options = 2, .choice = &t->sr};
        char *text[] = {"The local storage repository (SR) holds the guests' disks.", "",
                        "LVM: logical volumes, thick provisioned, fast.",
                        "EXT: VHD files on an ext4 file system, thin provisioned.", NULL};
        struct form f = {.title = "Storage repository", .text = text, .fields = &fl, .n_fields = 1,
                         .help = " Left/Right: choose   Enter: continue   Esc: back   F10: quit"};
        int r = form_run(t, &f);
        if (r == FORM_NEXT)
                t->cfg->sr_type = t->sr == 0 ? SR_LVM : SR_EXT;
        return form_result(r);
}

static int screen_source(struct tui *t) {
        struct field fs[] = {
                {.kind = FIELD_CHOICE, .y = 8, .x = 4, .label = "Source: ", .label_w = 8, .options = source_options,
                 .n_options = 3, .choice = &t->source},
                {.kind = FIELD_TEXT, .y = 10, .x = 4, .label = "Address: ", .label_w = 9, .w = 60, .buf = t->url,
                 .show_if = &t->source, .show_value = 0, .show_not = true},
        };
        _cleanup_free_ char *version = t->facts->has_image ? strf("This media carries xenhost %s (build %s).",
                                                                  t->facts->image.version ?: "?",
                                                                  t->facts->image.build ?: "?")
                                                           : strdup("No host image was found on this media.");
        char *text[] = {"Where the host image comes from.", version, NULL};
        struct form f = {.title = "Installation source", .text = text, .fields = fs, .n_fields = 2};
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                for (size_t i = 0; i < t->cfg->n_sources; i++)
                        free(t->cfg->sources[i].address);
                free(t->cfg->sources);
                t->cfg->sources = NULL;
                t->cfg->n_sources = 0;
                enum location_type type = t->source == 0 ? LOCATION_LOCAL : t->source == 1 ? LOCATION_URL : LOCATION_NFS;
                if (type != LOCATION_LOCAL && !t->url[0]) {
                        message(t, "Type the address of the source (%s).",
                                type == LOCATION_NFS ? "server:/path" : "http://server/path");
                        continue;
                }
                if (install_config_add_source(t->cfg, type, type == LOCATION_LOCAL ? NULL : t->url) < 0)
                        return -ENOMEM;
                if (!config_check(t, (const char *const[]) {"sources", NULL}, false))
                        continue;
                /* The image facts of the source chosen: a network source's
                 * manifest is read now, so that a wrong address is said here. */
                _cleanup_free_ char *why = NULL;
                if (install_facts_probe_image(t->facts, t->cfg, t->env, &why) < 0) {
                        message(t, "%s", why ?: "The source cannot be read.");
                        continue;
                }
                if (type == LOCATION_LOCAL && !t->facts->has_image) {
                        message(t, "This media carries no host image: it cannot be the source.");
                        continue;
                }
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

/* The packs the media carry, marked to be installed (all that can be read,
 * at first), and one more from a URL: as XenServer's installer asks for
 * supplemental packs. */
static void packs_detail(struct tui *t, struct form *f) {
        (void) f;
        if (t->n_media_packs == 0)
                return;
        put(14, 4, SCREEN_W - 8, t->pack_desc[t->pack_sel]);
}

static int screen_packs(struct tui *t) {
        char *none[] = {"(this media carries no packs)", NULL};
        struct field fs[] = {
                {.kind = FIELD_LIST, .y = 7, .x = 4, .w = SCREEN_W - 8, .h = 6,
                 .items = t->n_media_packs ? t->pack_items : none, .n_items = t->n_media_packs ? t->n_media_packs : 1,
                 .sel = &t->pack_sel, .marks = t->n_media_packs ? t->pack_marks : NULL,
                 .label = "Packs on this media (Space marks, [x] is installed):"},
                {.kind = FIELD_TEXT, .y = 17, .x = 4, .label = "Pack URL: ", .label_w = 10, .w = 60, .buf = t->pack_url},
        };
        char *text[] = {"Supplemental packs add drivers, agents and tools to the host. Each pack is",
                        "verified before the disk is written, and installed after the host image.", NULL};
        struct form f = {.title = "Supplemental packs", .text = text, .fields = fs, .n_fields = 2,
                         .draw_extra = packs_detail,
                         .help = " Space: mark   Tab: next field   Enter: continue   Esc: back   F10: quit"};
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                size_t marked = 0, unreadable = SIZE_MAX;
                for (size_t i = 0; i < t->n_media_packs; i++) {
                        if (t->pack_marks[i] && !t->pack_names[i] && unreadable == SIZE_MAX)
                                unreadable = i;
                        marked += t->pack_marks[i];
                }
                if (unreadable != SIZE_MAX) {
                        message(t, "%s cannot be read as a pack: unmark it.", t->pack_files[unreadable]);
                        continue;
                }
                for (size_t i = 0; i < t->cfg->n_packs; i++)
                        free(t->cfg->packs[i].address);
                free(t->cfg->packs);
                t->cfg->packs = NULL;
                t->cfg->n_packs = 0;
                /* Every pack of the media is <pack type="local"/>, some are
                 * named one by one, none turns the media's packs off. */
                t->cfg->bundled_packs = marked > 0;
                if (marked > 0 && marked == t->n_media_packs) {
                        if (install_config_add_pack(t->cfg, LOCATION_LOCAL, NULL) < 0)
                                return -ENOMEM;
                } else
                        for (size_t i = 0; i < t->n_media_packs; i++)
                                if (t->pack_marks[i] && install_config_add_pack(t->cfg, LOCATION_LOCAL, t->pack_files[i]) < 0)
                                        return -ENOMEM;
                if (t->pack_url[0]) {
                        const char *nfs = startswith(t->pack_url, "nfs://");
                        if (install_config_add_pack(t->cfg, nfs ? LOCATION_NFS : LOCATION_URL, nfs ?: t->pack_url) < 0)
                                return -ENOMEM;
                }
                if (!config_check(t, (const char *const[]) {"packs", NULL}, false))
                        continue;
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

static void explicit_free(char *s) {
        if (s) {
                explicit_bzero(s, strlen(s));
                free(s);
        }
}

static int screen_password(struct tui *t) {
        struct field fs[] = {
                {.kind = FIELD_TEXT, .y = 8, .x = 4, .label = "Password: ", .label_w = 18, .w = 40, .buf = t->pw1,
                 .hidden = true},
                {.kind = FIELD_TEXT, .y = 10, .x = 4, .label = "Password again: ", .label_w = 18, .w = 40,
                 .buf = t->pw2, .hidden = true},
        };
        char *text[] = {"The password of root, the administrator of the host (at least 8 characters).", NULL};
        struct form f = {.title = "Root password", .text = text, .fields = fs, .n_fields = 2};
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                if (strlen(t->pw1) < 8) {
                        message(t, "The password is too short: at least 8 characters.");
                        t->pw1[0] = t->pw2[0] = 0;
                        f.focus = 0;
                        continue;
                }
                if (!streq(t->pw1, t->pw2)) {
                        message(t, "The two passwords do not match: type them again.");
                        t->pw2[0] = 0;
                        f.focus = 1;
                        continue;
                }
                /* The config holds the hash only: the clear text never
                 * reaches the log, the plan or the saved answer file. */
                _cleanup_free_ char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
                void *data = NULL;
                int size = 0;
                const char *hash = salt ? crypt_ra(t->pw1, salt, &data, &size) : NULL;
                char *copy = hash && hash[0] != '*' ? strdup(hash) : NULL;
                if (data) {
                        explicit_bzero(data, (size_t) size);
                        free(data);
                }
                if (!copy) {
                        message(t, "Cannot hash the password.");
                        continue;
                }
                explicit_free(t->cfg->root_password);
                t->cfg->root_password = copy;
                t->cfg->root_password_type = ROOT_PASSWORD_HASH;
                if (!config_check(t, (const char *const[]) {"root_password", NULL}, false))
                        continue;
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

static int screen_network(struct tui *t) {
        static const size_t is_static = 1;
        struct field fs[] = {
                {.kind = FIELD_LIST, .y = 5, .x = 4, .w = SCREEN_W - 8, .h = 4, .items = t->nic_items,
                 .n_items = t->facts->n_nics, .sel = &t->nic, .label = "Management interface:"},
                {.kind = FIELD_CHOICE, .y = 10, .x = 4, .label = "IPv4: ", .label_w = 14, .options = proto_options,
                 .n_options = 2, .choice = &t->proto},
                {.kind = FIELD_TEXT, .y = 12, .x = 4, .label = "Address: ", .label_w = 14, .w = 20, .buf = t->ip,
                 .show_if = &t->proto, .show_value = is_static},
                {.kind = FIELD_TEXT, .y = 13, .x = 4, .label = "Netmask: ", .label_w = 14, .w = 20, .buf = t->mask,
                 .show_if = &t->proto, .show_value = is_static},
                {.kind = FIELD_TEXT, .y = 14, .x = 4, .label = "Gateway: ", .label_w = 14, .w = 20, .buf = t->gw,
                 .show_if = &t->proto, .show_value = is_static},
                {.kind = FIELD_TEXT, .y = 16, .x = 4, .label = "Host name: ", .label_w = 14, .w = 50,
                 .buf = t->hostname},
                {.kind = FIELD_TEXT, .y = 17, .x = 4, .label = "DNS servers: ", .label_w = 14, .w = 50, .buf = t->dns},
        };
        struct form f = {.title = "Network", .fields = fs, .n_fields = ELEMENTSOF(fs)};
        struct admin_interface *a = &t->cfg->admin;
        if (t->facts->n_nics == 0)
                message(t, "No network interface was found.");
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                if (t->facts->n_nics == 0)
                        continue;
                bool st = t->proto == 1;
                t->cfg->has_admin_interface = true;
                a->proto = st ? NET_PROTO_STATIC : NET_PROTO_DHCP;
                if (set_str(&a->name, t->facts->nics[t->nic].name) < 0 || set_str(&a->ipaddr, st ? t->ip : NULL) < 0 ||
                    set_str(&a->subnet, st ? t->mask : NULL) < 0 || set_str(&a->gateway, st ? t->gw : NULL) < 0 ||
                    set_str(&t->cfg->hostname, t->hostname) < 0 || set_list(&t->cfg->name_servers, t->dns) < 0)
                        return -ENOMEM;
                if (st && !t->ip[0]) {
                        message(t, "Type the IPv4 address of the host.");
                        f.focus = 2;
                        continue;
                }
                if (st && !t->mask[0]) {
                        message(t, "Type the netmask (255.255.255.0, for example).");
                        f.focus = 3;
                        continue;
                }
                if (st && !t->gw[0]) {
                        message(t, "Type the gateway's address.");
                        f.focus = 4;
                        continue;
                }
                /* A gateway outside the subnet is only a warning for an
                 * answer file; typed here, it is a typing error. */
                static const char *const field_focus[] = {"admin.ipaddr", "admin.subnet", "admin.gateway",
                                                          "hostname", "name_servers"};
                bool ok = config_check(t, (const char *const[]) {"admin", NULL}, true);
                if (ok && !t->hostname[0]) {
                        message(t, "Type a host name.");
                        f.focus = 5;
                        continue;
                }
                ok = ok && config_check(t, (const char *const[]) {"hostname", "name_servers", NULL}, false);
                if (!ok) {
                        /* To the field that is wrong. */
                        for (size_t k = 0; k < ELEMENTSOF(field_focus); k++)
                                if (streq(t->bad_field, field_focus[k]))
                                        f.focus = 2 + k;
                        continue;
                }
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

static const char *zoneinfo_root(void) {
        return getenv(ZONEINFO_ROOT_ENV) ?: ZONEINFO_ROOT_DEFAULT;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The zones below DIR (a region), as "City" or "Sub/City". */
static int zone_files(const char *root, const char *prefix, char ***l, size_t *n, unsigned depth) {
        _cleanup_free_ char *dir = strf("%s/%s", root, prefix);
        if (!dir)
                return -ENOMEM;
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        struct dirent *de;
        int r = 0;
        while (r == 0 && (de = readdir(d))) {
                struct stat st;
                _cleanup_free_ char *path = strf("%s/%s", dir, de->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                if (!isupper((unsigned char) de->d_name[0]) || stat(path, &st) < 0)
                        continue;
                _cleanup_free_ char *name = strf("%s/%s", prefix, de->d_name);
                if (!name)
                        r = -ENOMEM;
                else if (S_ISDIR(st.st_mode) && depth < 3)
                        r = zone_files(root, name, l, n, depth + 1);
                else if (S_ISREG(st.st_mode))
                        r = strv_push(l, n, strdup(strchr(name, '/') + 1 + 0));
        }
        closedir(d);
        return r;
}

static int load_regions(struct tui *t) {
        DIR *d = opendir(zoneinfo_root());
        size_t n = 0;
        struct dirent *de;
        int r = 0;
        if (!d)
                return 0;
        while (r == 0 && (de = readdir(d))) {
                struct stat st;
                _cleanup_free_ char *path = strf("%s/%s", zoneinfo_root(), de->d_name);
                if (path && isupper((unsigned char) de->d_name[0]) && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                        r = strv_push(&t->regions, &n, strdup(de->d_name));
        }
        closedir(d);
        if (n)
                qsort(t->regions, n, sizeof *t->regions, cmp_str);
        for (size_t i = 0; i < n; i++)
                if (streq(t->regions[i], "Etc"))
                        t->region = i;
        return r;
}

static size_t strv_len(char **l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

static int screen_region(struct tui *t) {
        if (!t->regions) {
                /* No zone database: the time zone stays UTC. */
                (void) set_str(&t->cfg->timezone, NULL);
                return SCREEN_NEXT;
        }
        struct field fl = {.kind = FIELD_LIST, .y = 7, .x = 4, .w = 40, .h = 13, .items = t->regions,
                           .n_items = strv_len(t->regions), .sel = &t->region};
        char *text[] = {"The time zone of the host: first its region (a letter jumps to it).", NULL};
        struct form f = {.title = "Time zone", .text = text, .fields = &fl, .n_fields = 1};
        return form_result(form_run(t, &f));
}

static int screen_city(struct tui *t) {
        const char *region = t->regions ? t->regions[t->region] : NULL;
        if (region && (!t->cities_of || !streq(t->cities_of, region))) {
                size_t n = 0;
                strv_free_all(t->cities);
                t->cities = NULL;
                free(t->cities_of);
                if (zone_files(zoneinfo_root(), region, &t->cities, &n, 0) < 0 || !(t->cities_of = strdup(region)))
                        return -ENOMEM;
                /* zone_files() gives "Region/City" minus the region. */
                if (n)
                        qsort(t->cities, n, sizeof *t->cities, cmp_str);
                t->city = 0;
                for (size_t i = 0; i < n; i++)
                        if (streq(t->cities[i], "UTC"))
                                t->city = i;
        }
        static const size_t manual = 2;
        struct field fs[] = {
                {.kind = FIELD_LIST, .y = 6, .x = 4, .w = 40, .h = 10, .items = t->cities,
                 .n_items = strv_len(t->cities), .sel = &t->city, .label = "City:"},
                {.kind = FIELD_CHOICE, .y = 18, .x = 4, .label = "NTP: ", .label_w = 6, .options = ntp_options,
                 .n_options = 3, .choice = &t->ntp},
                {.kind = FIELD_TEXT, .y = 19, .x = 4, .label = "Servers: ", .label_w = 10, .w = 50,
                 .buf = t->ntp_servers, .show_if = &t->ntp, .show_value = manual},
        };
        _cleanup_free_ char *title = strf("Time zone: %s", region ?: "UTC");
        struct form f = {.title = title, .fields = fs, .n_fields = ELEMENTSOF(fs)};
        if (!region) {
                fs[0].n_items = 0;
                f.focus = 1;
        }
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return form_result(r);
                if (region && t->cities && t->cities[0]) {
                        _cleanup_free_ char *tz = strf("%s/%s", region, t->cities[t->city]);
                        if (!tz || set_str(&t->cfg->timezone, tz) < 0)
                                return -ENOMEM;
                }
                t->cfg->ntp_source = t->ntp == 0 ? NTP_SOURCE_DHCP : t->ntp == 1 ? NTP_SOURCE_DEFAULT : NTP_SOURCE_MANUAL;
                if (set_list(&t->cfg->ntp_servers, t->ntp == 2 ? t->ntp_servers : "") < 0)
                        return -ENOMEM;
                if (t->ntp == 2 && !t->ntp_servers[0]) {
                        message(t, "Type at least one NTP server.");
                        f.focus = 2;
                        continue;
                }
                if (!config_check(t, (const char *const[]) {"timezone", "ntp", NULL}, false))
                        continue;
                t->msg[0] = 0;
                return SCREEN_NEXT;
        }
}

/* ---- summary, install, end ---------------------------------------------- */

static int summary_lines(struct tui *t, const struct install_plan *p, char ***ret, size_t *ret_n) {
        char **l = NULL, s[32];
        size_t n = 0;
        int r = 0;
        const struct install_config *c = t->cfg;
        if (install_mode_keeps_host(p->mode)) {
                r = r ?: push_wrapped(&l, &n, "", strf("The %s keeps the host on %s: nothing is erased.",
                                                      install_mode_to_string(p->mode), p->disk ?: "?"));
                if (p->mode == INSTALL_MODE_UPGRADE)
                        r = r ?: push_wrapped(&l, &n, "", strf("Slot %c is written with xenhost %s.", p->slot ? p->slot : '?',
                                                              p->image.version ?: "?"));
                else
                        r = r ?: push_wrapped(&l, &n, "", strf("Slot %c boots next.", p->slot ? p->slot : '?'));
        } else {
                r = r ?: strv_push(&l, &n, strdup("These disks are ERASED:"));
                for (size_t i = 0; r == 0 && i < p->n_disks; i++) {
                        const struct plan_disk *d = &p->disks[i];
                        r = strv_push(&l, &n, strf("  %s  %s  %s  serial %s  (%s)", d->path,
                                                  format_si(s, sizeof s, d->size_bytes), d->model ?: "no model",
                                                  d->serial ?: "none", d->role == PLAN_DISK_PRIMARY ? "primary" : "SR"));
                        if (r == 0 && d->by_id)
                                r = strv_push(&l, &n, strf("    %s", d->by_id));
                        r = r ?: push_wrapped(&l, &n, "    now: ", strf("%s", d->holds ?: "?"));
                }
                r = r ?: strv_push(&l, &n, strdup(""));
                const struct admin_interface *a = &c->admin;
                r = r ?: push_wrapped(&l, &n, "", strf("xenhost %s, SR %s, keymap %s", p->image.version ?: "?",
                                                      sr_type_to_string(p->sr_type), c->keymap ?: "us"));
                r = r ?: push_wrapped(&l, &n, "", strf("Host name: %s", c->hostname ?: "localhost.localdomain"));
                if (a->proto == NET_PROTO_STATIC)
                        r = r ?: push_wrapped(&l, &n, "", strf("Management: %s, static %s netmask %s",
                                                              a->name ?: a->hwaddr ?: "", a->ipaddr, a->subnet));
                else
                        r = r ?: push_wrapped(&l, &n, "", strf("Management: %s, DHCP", a->name ?: a->hwaddr ?: ""));
                _cleanup_free_ char *dns = NULL;
                for (char **d = c->name_servers; d && *d; d++) {
                        char *x = strf("%s%s%s", dns ?: "", dns ? " " : "", *d);
                        free(dns);
                        dns = x;
                }
                _cleanup_free_ char *ntp = NULL;
                for (char **d = c->ntp_servers; d && *d; d++) {
                        char *x = strf("%s%s%s", ntp ?: " (", ntp ? ", " : "", *d);
                        free(ntp);
                        ntp = x;
                }
                if (a->proto == NET_PROTO_STATIC)
                        r = r ?: push_wrapped(&l, &n, "", strf("Gateway: %s; DNS: %s", a->gateway ?: "none",
                                                              dns ?: "none"));
                else
                        r = r ?: push_wrapped(&l, &n, "", strf("DNS: %s", dns ?: "from DHCP"));
                r = r ?: push_wrapped(&l, &n, "", strf("Time zone: %s; NTP: %s%s%s", c->timezone ?: "Etc/UTC",
                                                      ntp_source_to_string(c->ntp_source), ntp ?: "", ntp ? ")" : ""));
                _cleanup_free_ char *packs = NULL;
                for (size_t i = 0; i < c->n_packs; i++) {
                        const struct location *pl = &c->packs[i];
                        _cleanup_free_ char *shown = NULL;
                        if (pl->type != LOCATION_LOCAL && url_redact(pl->address, &shown) < 0)
                                r = -ENOMEM;
                        for (size_t k = 0; pl->type == LOCATION_LOCAL && k < t->n_media_packs; k++)
                                if ((!pl->address && t->pack_names[k]) ||
                                    (pl->address && streq(pl->address, t->pack_files[k]))) {
                                        char *x = strf("%s%s%s", packs ?: "", packs ? ", " : "",
                                                       t->pack_names[k] ?: t->pack_files[k]);
                                        free(packs);
                                        packs = x;
                                }
                        if (shown) {
                                char *x = strf("%s%s%s", packs ?: "", packs ? ", " : "", shown);
                                free(packs);
                                packs = x;
                        }
                }
                r = r ?: push_wrapped(&l, &n, "", strf("Supplemental packs: %s", packs ?: "none"));
                r = r ?: push_wrapped(&l, &n, "", strf("Root password: %s",
                                                      c->root_password_type == ROOT_PASSWORD_UNSET ? "not set"
                                                                                                   : "set (kept as a yescrypt hash)"));
        }
        for (char **w = p->warnings; r == 0 && w && *w; w++)
                r = push_wrapped(&l, &n, "! ", strf("%s", *w));
        for (char **e = p->errors; r == 0 && e && *e; e++)
                r = push_wrapped(&l, &n, "ERROR: ", strf("%s", *e));
        if (r < 0) {
                strv_free_all(l);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

static bool is_loop_device(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISBLK(st.st_mode) && major(st.st_rdev) == 7;
}

int tui_plan_path(const char *log_path, char **ret) {
        const char *p = log_path ?: "/var/log/xenhost-install.log";
        size_t len = strlen(p);
        if (endswith(p, ".log"))
                len -= 4;
        char *s = strf("%.*s.plan.json", (int) len, p);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static void keep_plan(struct tui *t, const struct install_plan *p) {
        _cleanup_free_ char *path = NULL, *json = NULL;
        size_t len = 0;
        FILE *f;
        if (tui_plan_path(t->env->log_path, &path) < 0 || !(f = open_memstream(&json, &len)))
                return;
        int r = install_plan_print_json(p, t->facts, f);
        fclose(f);
        if (r >= 0)
                r = write_file_atomic(path, json, len, 0600);
        if (r < 0)
                log_warning_errno(r, "Cannot keep the plan in %s: %m", path);
}

static void on_progress(const struct install_progress *p, void *userdata) {
        struct tui *t = userdata;
        char line[SCREEN_W + 1];
        t->progress_percent = (int) p->percent;
        snprintf(t->progress_title, sizeof t->progress_title, "Step %u of %u: %s", p->index, p->n_steps,
                 p->title ?: p->name ?: "");
        t->progress_bytes[0] = 0;
        if (p->total) {
                char a[32], b[32];
                snprintf(t->progress_bytes, sizeof t->progress_bytes, "%s of %s", format_iec(a, sizeof a, p->done),
                         format_iec(b, sizeof b, p->total));
        }
        timeout(0);
        while (getch() != ERR) /* KEY_RESIZE, or keys typed meanwhile: dropped */
                ;
        timeout(-1);
        if (screen_too_small())
                return;
        draw_frame(t, "Installing");
        put(5, 4, SCREEN_W - 8, t->progress_title);
        int w = SCREEN_W - 16, filled = w * t->progress_percent / 100;
        memset(line, '#', (size_t) filled);
        memset(line + filled, '.', (size_t) (w - filled));
        line[w] = 0;
        mvprintw(8, 4, "[%s] %3d%%", line, t->progress_percent);
        put(10, 4, SCREEN_W - 8, t->progress_bytes);
        put(ROW_HELP, 0, SCREEN_W, " Installing: the disks are being written. Please wait.");
        curs_set(0);
        refresh();
}

static void on_warning(const char *line, void *userdata) {
        (void) userdata;
        log_info("warning: %s", line);
}

static int screen_end(struct tui *t, bool installed, const char *step, const char *reason);

/* The summary, then the install. */
static int screen_summary(struct tui *t) {
        _cleanup_(install_facts_freep) struct install_facts *facts = NULL;
        _cleanup_(install_plan_freep) struct install_plan *plan = NULL;
        _cleanup_free_ char *reason = NULL;
        char **lines = NULL;
        size_t n = 0;
        int r;

        /* Probed again, with the disks chosen: what the plan says is on them
         * is what is on them now. */
        r = install_facts_probe(t->cfg, t->env, &facts, &reason);
        if (r < 0) {
                message(t, "Cannot probe the machine: %s", reason ?: strerror(-r));
                struct form f = {.title = "Summary", .help = " Esc: back   F10: quit"};
                for (;;) {
                        r = form_run(t, &f);
                        if (r != FORM_NEXT)
                                return form_result(r);
                }
        }
        r = install_plan_compute(t->cfg, facts, &plan);
        if (r < 0)
                return r;
        if (!install_in_installer_environment())
                for (size_t i = 0; i < plan->n_disks; i++)
                        if (!is_loop_device(plan->disks[i].path)) {
                                char *e = strf("this is not the xenhost installer environment, and %s is not a loop "
                                               "device: it is not written", plan->disks[i].path);
                                if (!e || strv_push(&plan->errors, &plan->n_errors, e) < 0)
                                        return -ENOMEM;
                        }
        r = summary_lines(t, plan, &lines, &n);
        if (r < 0)
                return r;
        struct field fl = {.kind = FIELD_VIEW, .y = 4, .x = 2, .w = SCREEN_W - 4, .h = 16, .items = lines, .n_items = n};
        struct form f = {.title = "Summary: confirm to install", .fields = &fl, .n_fields = 1,
                         .help = plan->n_errors ? " Up/Down: scroll   Esc: back to change it   F10: quit"
                                                : " Up/Down: scroll   Enter: INSTALL, erasing the disks   Esc: back   F10: quit"};
        if (plan->n_errors)
                message(t, "The install cannot go on: Esc goes back to change it.");
        else
                message(t, "Enter erases the disks above and installs xenhost.");
        for (;;) {
                r = form_run(t, &f);
                if (r != FORM_NEXT || plan->n_errors == 0)
                        break;
        }
        strv_free_all(lines);
        if (r != FORM_NEXT) {
                t->msg[0] = 0;
                return form_result(r);
        }
        t->msg[0] = 0;

        /* Consent given: the facts are the plan's, for the log and the plan kept. */
        install_facts_free(t->facts);
        t->facts = TAKE_PTR(facts);
        keep_plan(t, plan);
        log_info("xenhost installer (interactive): %s install onto %s", install_mode_to_string(t->cfg->mode),
                 plan->disk ?: "?");
        struct install_frontend fe = {.progress = on_progress, .warning = on_warning, .userdata = t};
        enum install_step step = _INSTALL_STEP_MAX;
        _cleanup_free_ char *why = NULL;
        r = install_plan_apply(plan, t->cfg, t->env, &fe, &step, &why);
        if (r < 0) {
                /* The engine's reason names the step already ("step partition: ..."). */
                const char *rest = why ?: strerror(-r), *colon = strstr(rest, ": ");
                char sn[64];
                snprintf(sn, sizeof sn, "%s", step < _INSTALL_STEP_MAX ? install_step_to_string(step) : "?");
                if (startswith(rest, "step ") && colon) {
                        snprintf(sn, sizeof sn, "%.*s", (int) (colon - rest - 5), rest + 5);
                        rest = colon + 2;
                }
                log_error("Installation failed: step %s: %s", sn, rest);
                t->failure = strf("step %s: %s", sn, rest);
                screen_end(t, false, sn, rest);
                return r;
        }
        log_info("xenhost installer (interactive): done");
        screen_end(t, true, NULL, NULL);
        return SCREEN_DONE;
}

/* Writes DATA to PATH, or, when PATH is a block device (a USB stick's
 * partition, /dev/sdb1) in the installer environment, to NAME at the top of
 * the file system on it: mounted for the time of the write, then written
 * back and unmounted, so that the stick can be pulled at once. */
static int save_to(struct tui *t, const char *path, const char *name, const char *data, size_t len,
                   char **ret_where) {
        struct stat st;
        int r;

        if (!path[0])
                return -EINVAL;
        if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode)) {
                r = write_file_atomic(path, data, len, 0600);
                if (r >= 0 && !(*ret_where = strdup(path)))
                        return -ENOMEM;
                return r;
        }
        if (!t->in_installer)
                return -EPERM; /* the build machine's own devices are never mounted */
        const char *dir = "/run/xenhost-install/usb";
        _cleanup_free_ char *file = strf("%s/%s", dir, name);
        if (!file)
                return -ENOMEM;
        if ((r = mkdir_all(dir, 0700)) < 0)
                return r;
        if (spawn_run((const char *[]) {"mount", path, dir, NULL}, NULL) < 0)
                return -EIO;
        r = write_file_atomic(file, data, len, 0600);
        if (r >= 0)
                r = sync_file_system(file);
        if (spawn_run((const char *[]) {"umount", dir, NULL}, NULL) < 0 && r >= 0)
                r = -EBUSY;
        if (r >= 0 && !(*ret_where = strf("%s on %s", name, path)))
                return -ENOMEM;
        return r;
}

/* The form that asks where to save DATA (a path, or a USB stick). */
static int save_form(struct tui *t, const char *title, const char *label, const char *what1, const char *what2,
                     char path[TEXT_MAX], const char *name, const char *data, size_t len) {
        struct field fl = {.kind = FIELD_TEXT, .y = 10, .x = 4, .label = "Save to: ", .label_w = 9, .w = 60, .buf = path};
        _cleanup_free_ char *line2 = strf("Type a path, or a USB stick's partition (/dev/sdb1): %s", name);
        char *text[] = {(char *) what1, (char *) what2, "", line2, "is then written at the top of its file system.", NULL};
        struct form f = {.title = title, .text = text, .fields = &fl, .n_fields = 1};
        if (!line2)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *where = NULL;
                int r = form_run(t, &f);
                if (r != FORM_NEXT)
                        return 0;
                r = save_to(t, path, name, data, len, &where);
                if (r == -EPERM)
                        message(t, "%s is a device: only the installer environment writes to devices.", path);
                else if (r == -EIO)
                        message(t, "Cannot mount %s: %s", path, spawn_last_error());
                else if (r < 0)
                        message(t, "Cannot write %s: %s", path[0] ? path : "(no path)", strerror(-r));
                else {
                        message(t, "%s was saved to %s.", label, where);
                        return 0;
                }
        }
}

static int save_answerfile(struct tui *t, char path[TEXT_MAX]) {
        _cleanup_free_ char *xml = NULL;
        if (answerfile_format(t->cfg, &xml) < 0)
                return -ENOMEM;
        return save_form(t, "Save the answer file", "The answer file",
                         "It installs the next hosts the same way (xenhost-install --answerfile FILE).",
                         "It holds the root password's hash, not the password.", path, "xenhost-answerfile.xml", xml, strlen(xml));
}

/* The install log, read again from its file (written a line at a time):
 * what failed is at its end. */
#define LOG_SHOWN_MAX (4U << 20)
static int read_log(struct tui *t, char **ret, size_t *ret_len) {
        if (!t->env->log_path)
                return -ENOENT;
        return read_full_file_bounded(t->env->log_path, LOG_SHOWN_MAX, ret, ret_len);
}

static int show_log(struct tui *t) {
        _cleanup_free_ char *text = NULL;
        char **lines = NULL;
        size_t len = 0, n = 0;
        int r = read_log(t, &text, &len);
        if (r < 0) {
                message(t, "Cannot read the log %s: %s", t->env->log_path ?: "(none)", strerror(-r));
                return 0;
        }
        if (wrap(text, SCREEN_W - 4, &lines, &n) < 0)
                return -ENOMEM;
        struct field fl = {.kind = FIELD_VIEW, .y = 4, .x = 2, .w = SCREEN_W - 4, .h = 17, .items = lines, .n_items = n,
                           .top = n > 17 ? n - 17 : 0};
        _cleanup_free_ char *title = strf("The log, %s (its end)", t->env->log_path);
        struct form f = {.title = title ?: "The log", .fields = &fl, .n_fields = 1,
                         .help = " Up/Down, PgUp/PgDn: scroll   Esc or Enter: back"};
        t->msg[0] = 0;
        form_run(t, &f);
        strv_free_all(lines);
        return 0;
}

static int save_log(struct tui *t, char path[TEXT_MAX]) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_log(t, &text, &len);
        if (r < 0) {
                message(t, "Cannot read the log %s: %s", t->env->log_path ?: "(none)", strerror(-r));
                return 0;
        }
        return save_form(t, "Save the log", "The log", "The whole install log, for a support case.", "", path,
                         "xenhost-install.log", text, len);
}

static int show_answerfile(struct tui *t) {
        _cleanup_free_ char *xml = NULL;
        char **lines = NULL;
        size_t n = 0;
        if (answerfile_format(t->cfg, &xml) < 0 || wrap(xml, SCREEN_W - 4, &lines, &n) < 0)
                return -ENOMEM;
        struct field fl = {.kind = FIELD_VIEW, .y = 4, .x = 2, .w = SCREEN_W - 4, .h = 17, .items = lines, .n_items = n};
        struct form f = {.title = "The answer file", .fields = &fl, .n_fields = 1,
                         .help = " Up/Down: scroll   Esc or Enter: back"};
        t->msg[0] = 0;
        form_run(t, &f);
        strv_free_all(lines);
        return 0;
}

/* The end. Items 1 and 2 are the answer file's in both cases; a failed
 * install offers its log first (shown from its end, or saved: to a USB
 * stick for a support case) and cannot reboot into a host that is not
 * there. */
enum { END_REBOOT_OR_LOG, END_SAVE_ANSWERFILE, END_SHOW_ANSWERFILE, END_EXIT_OR_SAVE_LOG, END_EXIT };
static int screen_end(struct tui *t, bool installed, const char *step, const char *reason) {
        static const char *const items_ok[] = {"Reboot now", "Save the answer file", "Show the answer file", "Exit",
                                               NULL};
        static const char *const items_failed[] = {"Show the log", "Save the answer file", "Show the answer file",
                                                   "Save the log", "Exit", NULL};
        const char *const *items = installed ? items_ok : items_failed;
        size_t sel = 0, n = strv_len((char **) items);
        char path[TEXT_MAX] = "/tmp/xenhost-answerfile.xml", log_path[TEXT_MAX] = "/tmp/xenhost-install.log";
        char **text = NULL;
        size_t nt = 0;
        if (installed)
                push_wrapped(&text, &nt, "", strf("xenhost is installed on %s.", t->cfg->primary_disk ?: "the disk"));
        else {
                push_wrapped(&text, &nt, "", strf("The install failed at step %s:", step && *step ? step : "?"));
                push_wrapped(&text, &nt, "  ", strf("%s", reason ?: "unknown error"));
                push_wrapped(&text, &nt, "", strf("The full log is %s.", t->env->log_path ?: "(none)"));
        }
        struct field fl = {.kind = FIELD_LIST, .y = 11, .x = 4, .w = 40, .h = (int) n, .items = (char **) items,
                           .n_items = n, .sel = &sel};
        struct form f = {.title = installed ? "Installation complete" : "Installation failed", .text = text,
                         .fields = &fl, .n_fields = 1, .help = " Up/Down: choose   Enter: do it"};
        for (;;) {
                int r = form_run(t, &f);
                if (r != FORM_NEXT) {
                        message(t, "Choose Exit to leave the installer%s.", installed ? ", or Reboot" : "");
                        continue;
                }
                t->msg[0] = 0;
                if (sel == END_SAVE_ANSWERFILE)
                        save_answerfile(t, path);
                else if (sel == END_SHOW_ANSWERFILE)
                        show_answerfile(t);
                else if (sel == END_REBOOT_OR_LOG && !installed)
                        show_log(t);
                else if (sel == END_EXIT_OR_SAVE_LOG && !installed)
                        save_log(t, log_path);
                else if (sel == END_REBOOT_OR_LOG && !t->in_installer)
                        message(t, "Not rebooting: this is not the installer environment. Choose Exit.");
                else if (sel == END_REBOOT_OR_LOG) {
                        /* The installer environment has no service manager
                         * to stop: write back and restart now, as its
                         * unattended path does. */
                        sync();
                        if (spawn_run((const char *[]) {"reboot", "-f", NULL}, NULL) < 0)
                                message(t, "Cannot reboot: %s", spawn_last_error());
                } else
                        break;
        }
        strv_free_all(text);
        return 0;
}

/* ---- the screens in order ------------------------------------------------- */

static bool screen_applies(struct tui *t, size_t i);
static int (*const screens[])(struct tui *t) = {
        screen_keymap, screen_welcome, screen_licence, screen_hardware, screen_disks, screen_sr, screen_source,
        screen_packs, screen_password, screen_network, screen_region, screen_city, screen_summary,
};
enum { S_KEYMAP, S_WELCOME, S_LICENCE, S_HARDWARE, S_DISKS, S_SR, S_SOURCE, S_PACKS, S_PASSWORD, S_NETWORK,
       S_REGION, S_CITY, S_SUMMARY };

static bool screen_applies(struct tui *t, size_t i) {
        /* An upgrade carries the host's packs over (xenhost-upgrade); new
         * ones go in with xenhost-pack on the upgraded host. */
        if (install_mode_keeps_host(t->cfg->mode))
                return i == S_KEYMAP || i == S_WELCOME || i == S_LICENCE || i == S_SUMMARY ||
                       (i == S_SOURCE && t->cfg->mode == INSTALL_MODE_UPGRADE);
        return true;
}

static int prepare(struct tui *t) {
        _cleanup_install_config_ struct install_config *probe_cfg = NULL;
        _cleanup_free_ char *reason = NULL;
        const char *list = getenv(TUI_DISKS_ENV);
        int r;

        if ((r = install_config_new(&probe_cfg)) < 0)
                return r;
        if (list && set_list(&probe_cfg->guest_disks, list) < 0)
                return -ENOMEM;
        struct install_env env = *t->env;
        env.probe_all_disks = t->in_installer;
        r = install_facts_probe(probe_cfg, &env, &t->facts, &reason);
        if (r < 0)
                return log_error_errno(r, "Cannot probe this machine: %s", reason ?: strerror(-r));

        /* keymaps: those the database has (all when it is missing) */
        for (size_t i = 0; i < ELEMENTSOF(keymaps); i++) {
                int k = keymap_lookup(NULL, keymaps[i].name);
                if (k < 0 && k != -ENODATA)
                        continue;
                const struct keymap_entry **nk = reallocarray(t->keymap_of, t->n_keymaps + 1, sizeof *nk);
                if (!nk)
                        return -ENOMEM;
                t->keymap_of = nk;
                nk[t->n_keymaps] = &keymaps[i];
                size_t n = t->n_keymaps;
                if (strv_push(&t->keymap_items, &n, strf("%-10s %s", keymaps[i].name, keymaps[i].title)) < 0)
                        return -ENOMEM;
                t->n_keymaps = n;
        }
        if (t->n_keymaps == 0)
                return log_error_errno(-ENOENT, "No console keymap found");

        /* disks */
        t->extra = calloc(t->facts->n_disks + 1, sizeof *t->extra);
        if (!t->extra)
                return -ENOMEM;
        for (size_t i = 0; i < t->facts->n_disks; i++) {
                const struct disk_facts *d = &t->facts->disks[i];
                _cleanup_free_ char *holds = disk_holds(d);
                char s[32];
                r = strv_push(&t->disk_items, &t->n_disk_items,
                              strf("%-12s %9s  %-16.16s %-14.14s %s", disk_short(d->path),
                                   format_si(s, sizeof s, d->size_bytes), d->model ?: "-", d->serial ?: "-",
                                   holds ?: "?"));
                if (r < 0)
                        return r;
                if (d->is_xenhost && !t->xenhost_disk)
                        t->xenhost_disk = d->path;
        }
        t->n_welcome = t->xenhost_disk ? 3 : 1;
        for (size_t i = 0, n = 0; i < t->n_welcome; i++)
                if (strv_push(&t->welcome_items, &n, strdup(welcome_options[i])) < 0)
                        return -ENOMEM;

        /* NICs: the first with a link is the likely management NIC */
        size_t nn = 0;
        t->nic = SIZE_MAX;
        for (size_t i = 0; i < t->facts->n_nics; i++) {
                const struct nic_facts *nic = &t->facts->nics[i];
                if (strv_push(&t->nic_items, &nn, strf("%-10s %s  %-12s link %s", nic->name, nic->mac ?: "-",
                                                       nic->driver ?: "-", nic->link ? "up" : "down")) < 0)
                        return -ENOMEM;
                if (nic->link && t->nic == SIZE_MAX)
                        t->nic = i;
        }
        if (t->nic == SIZE_MAX)
                t->nic = 0;

        /* the media's packs: what each says it is (not yet verified) */
        _cleanup_strv_free_ char **files = NULL;
        r = install_media_packs(t->env->media_root, &files);
        if (r < 0)
                log_warning_errno(r, "Cannot list the packs of the install media: %m");
        size_t np = r > 0 ? (size_t) r : 0;
        if (np > 0) {
                t->pack_items = calloc(np + 1, sizeof *t->pack_items);
                t->pack_names = calloc(np + 1, sizeof *t->pack_names);
                t->pack_desc = calloc(np + 1, sizeof *t->pack_desc);
                t->pack_marks = calloc(np + 1, sizeof *t->pack_marks);
                if (!t->pack_items || !t->pack_names || !t->pack_desc || !t->pack_marks)
                        return -ENOMEM;
                for (size_t i = 0; i < np; i++) {
                        _cleanup_free_ char *path = strf("%s/%s/%s", t->env->media_root, PACKS_MEDIA_DIR, files[i]);
                        _cleanup_free_ char *why = NULL;
                        struct pack_info info = {};
                        if (!path)
                                return -ENOMEM;
                        if (pack_peek(path, &info, &why) >= 0) {
                                t->pack_items[i] = strf("%-24.24s %-12.12s %s", info.name, info.version, info.originator);
                                t->pack_names[i] = strf("%s %s", info.name, info.version);
                                t->pack_desc[i] = strf("%s: %s", files[i], info.description ?: "");
                                t->pack_marks[i] = true;
                        } else {
                                t->pack_items[i] = strf("%s: not a readable pack", files[i]);
                                /* The reason names the file, not its path. */
                                const char *rest = why ? startswith(why, path) : NULL;
                                t->pack_desc[i] = rest ? strf("%s%s", files[i], rest)
                                                       : strf("%s: %s", files[i], why ?: "not a pack");
                        }
                        pack_info_done(&info);
                        if (!t->pack_items[i] || !t->pack_desc[i] || (t->pack_marks[i] && !t->pack_names[i]))
                                return -ENOMEM;
                }
                t->pack_files = TAKE_PTR(files);
        }
        t->n_media_packs = np;
        return load_regions(t);
}

static void tui_free(struct tui *t) {
        install_facts_free(t->facts);
        strv_free_all(t->keymap_items);
        free(t->keymap_of);
        strv_free_all(t->welcome_items);
        strv_free_all(t->disk_items);
        free(t->extra);
        strv_free_all(t->nic_items);
        strv_free(t->pack_files);
        for (size_t i = 0; i < t->n_media_packs; i++) {
                free(t->pack_items[i]);
                free(t->pack_names[i]);
                free(t->pack_desc[i]);
        }
        free(t->pack_items);
        free(t->pack_names);
        free(t->pack_desc);
        free(t->pack_marks);
        strv_free_all(t->regions);
        strv_free_all(t->cities);
        free(t->cities_of);
        explicit_bzero(t->pw1, sizeof t->pw1);
        explicit_bzero(t->pw2, sizeof t->pw2);
        install_config_free(t->cfg);
}

/* While the screen is up, stdout and stderr (ours, libparted's, every
 * child's) go to the log; curses draws on a copy of the terminal. */
static int screen_start(struct tui *t) {
        const char *log_path = t->env->log_path ?: "/dev/null";
        _cleanup_close_ int log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (log_fd < 0)
                return log_error_errno(-errno, "Cannot open the log file %s: %m", log_path);
        int tty = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        if (tty < 0)
                return -errno;
        t->screen_out = fdopen(tty, "w");
        if (!t->screen_out) {
                close(tty);
                return -errno;
        }
        if (!newterm(NULL, t->screen_out, stdin)) {
                fclose(t->screen_out);
                t->screen_out = NULL;
                return log_error_errno(-ENOTTY, "Cannot start the screen (TERM=%s)", getenv("TERM") ?: "");
        }
        fflush(stdout);
        fflush(stderr);
        t->saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
        t->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
        if (dup2(log_fd, STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0)
                return -errno;
        set_escdelay(25);
        raw();
        noecho();
        keypad(stdscr, TRUE);
        curs_set(0);
        return 0;
}

static void screen_stop(struct tui *t) {
        if (!t->screen_out)
                return;
        endwin();
        fflush(stdout);
        fflush(stderr);
        if (t->saved_out >= 0)
                dup2(t->saved_out, STDOUT_FILENO);
        if (t->saved_err >= 0)
                dup2(t->saved_err, STDERR_FILENO);
        if (t->saved_out >= 0)
                close(t->saved_out);
        if (t->saved_err >= 0)
                close(t->saved_err);
        fclose(t->screen_out);
        t->screen_out = NULL;
}

int tui_run(const struct install_env *env, char **ret_reason) {
        struct tui t = {.env = env, .in_installer = install_in_installer_environment(), .saved_out = -1,
                        .saved_err = -1};
        int r;

        setlocale(LC_ALL, "");
        r = install_config_new(&t.cfg);
        if (r < 0)
                return r;
        if (env->log_path && log_open_file(env->log_path) < 0)
                log_debug("Cannot open the log file %s", env->log_path);
        /* Library lines go to the log only; the screen says what matters. */
        if (log_get_max_level() > LOG_LEVEL_DEBUG)
                log_set_max_level(LOG_LEVEL_ERROR);
        r = prepare(&t);
        if (r < 0) {
                tui_free(&t);
                return r;
        }
        r = screen_start(&t);
        if (r < 0) {
                screen_stop(&t);
                tui_free(&t);
                return r;
        }
        size_t i = 0;
        for (;;) {
                r = screens[i](&t);
                if (r < 0 || r == SCREEN_DONE || r == SCREEN_QUIT)
                        break;
                t.msg[0] = 0;
                if (r == SCREEN_NEXT) {
                        size_t j = i + 1;
                        while (j < ELEMENTSOF(screens) && !screen_applies(&t, j))
                                j++;
                        i = j < ELEMENTSOF(screens) ? j : i;
                } else {
                        t.msg[0] = 0;
                        size_t j = i;
                        while (j > 0 && !screen_applies(&t, j - 1))
                                j--;
                        i = j > 0 ? j - 1 : 0;
                }
        }
        screen_stop(&t);
        if (r == SCREEN_QUIT) {
                r = -ECANCELED;
                reason_set(ret_reason, "the installer was left before the summary was confirmed: nothing was written");
        } else if (r == SCREEN_DONE)
                r = 0;
        else
                reason_set(ret_reason, "%s (full log: %s)", t.failure ?: strerror(-r), env->log_path ?: "none");
        free(t.failure);
        tui_free(&t);
        return r;
}
