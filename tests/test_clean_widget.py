"The cleaning widget rendered by voila and driven in Chromium; the static gallery driven in Chromium and applied by the CLI."
import os, socket, subprocess, sys, time, shutil, contextlib
from pathlib import Path
import pandas as pd
import pytest
from companion.env import free_port
from conftest import CHROME_ARGS, require, run_cli, serving, until
from companion.data import flip_labels
from companion.clean import Cleaner, snapshot, STATE
from companion.clean_files import file_sha
from companion.clean_gallery import gallery

HERE = Path(__file__).parent

@pytest.fixture
def flipped(digits_path, tmp_path):
    "A private copy of the digits with 5 % of the train labels flipped, and candidates: the flipped files, then some clean ones."
    root = shutil.copytree(digits_path, tmp_path/'digits', ignore=shutil.ignore_patterns(STATE, 'flipped.csv'))
    fl = flip_labels(root, pct=0.05, seed=1)
    clean = sorted(root.glob('valid/*/*.png'))[::40]
    df = pd.DataFrame(dict(path=[str(root/p) for p in fl.path] + [str(f) for f in clean],
                           split=['train']*len(fl) + ['valid']*len(clean),
                           label=list(fl.given_label) + [f.parent.name for f in clean],
                           pred=list(fl.true_label) + [f.parent.name for f in clean],
                           loss=[3.0]*len(fl) + [0.1]*len(clean), why=['label flipped on purpose']*len(fl) + ['']*len(clean)))
    df.to_csv(tmp_path/'candidates.csv', index=False)
    return root, df, tmp_path/'candidates.csv'

@contextlib.contextmanager
def serve_voila(root, csv, tmp_path, **env):
    "Serve tests/clean_widget_app.ipynb with voila on a free port over `root` and the candidates `csv`; yield its URL."
    voila = Path(sys.executable).parent/'voila'
    require(voila.exists(), 'voila (pip install voila)')
    nb = shutil.copy(HERE/'clean_widget_app.ipynb', tmp_path/'app.ipynb')
    port = free_port()
    env = dict(os.environ, COMPANION_CLEAN_ROOT=str(root), COMPANION_CLEAN_CANDIDATES=str(csv), **env)
    with serving([voila, nb, '--no-browser', f'--port={port}', '--Voila.ip=127.0.0.1'], port, tmp_path/'voila.log', env): yield f'http://127.0.0.1:{port}/'

@pytest.fixture
def voila_url(flipped, tmp_path):
    "The widget over the flipped digits, 8 cards a page."
    root, df, csv = flipped
    with serve_voila(root, csv, tmp_path, COMPANION_CLEAN_PER_PAGE='8') as url: yield url

def test_widget_in_voila(flipped, voila_url, chromium):
    from playwright.sync_api import sync_playwright
    root, df, _ = flipped
    before = snapshot(root)
    marks = lambda: {k: (v['action'], v.get('to')) for k,v in Cleaner(root).marks.items()}
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page()
        pg.goto(voila_url, timeout=120_000)
        pg.wait_for_selector('.cw-card', timeout=120_000)
        cards = pg.locator('.cw-card:visible')
        info = pg.locator('.cw-info')
        assert cards.count() == 8 and 'page 1 of' in info.inner_text()
        paths = lambda: pg.locator('.cw-card:visible .cw-path').all_inner_texts()
        path_of = lambda j: paths()[j]
        choose = lambda j, label: cards.nth(j).locator('select').select_option(label)
        shown = lambda j: cards.nth(j).locator('select').input_value()

        # mark on page 1: a delete and a relabel to the true label; nothing moves on disk, the journal has both
        p0, p1 = path_of(0), path_of(1)
        first_page = paths()
        to1 = df.set_index('path').loc[str(root/p1), 'pred']
        choose(0, 'delete'); choose(1, f'relabel → {to1}')
        until(lambda: marks() == {p0: ('delete', None), p1: ('relabel', to1)}, 'two marks in the journal')
        assert snapshot(root) == before

        # page through every candidate: the last page holds the rest, then mark on page 2
        n_pages = -(-len(df) // 8)
        assert f'page 1 of {n_pages}' in info.inner_text()
        for k in range(2, n_pages + 1):
            pg.locator('.cw-next').click(); until(lambda: f'page {k} of' in info.inner_text(), f'page {k}')
        assert cards.count() == len(df) - 8*(n_pages - 1)
        assert pg.locator('.cw-next').is_disabled()
        seen_last = path_of(0)
        for k in range(n_pages - 1, 1, -1):
            pg.locator('.cw-prev').click(); until(lambda: f'page {k} of' in info.inner_text(), f'page {k}')
        p2 = path_of(0); choose(0, 'delete')
        until(lambda: len(marks()) == 3, 'third mark')
        pg.locator('.cw-prev').click(); until(lambda: 'page 1 of' in info.inner_text(), 'page 1')
        until(lambda: (shown(0), shown(1)) == ('delete', f'relabel → {to1}'), 'page-1 choices shown again')

        # filters: show one class, mark there, switch class and split back and forth: choices are kept
        lab0 = df.set_index('path').loc[str(root/p0), 'label']
        pg.locator('.cw-class select').select_option(lab0)
        until(lambda: p0 in paths() and all(p.split('/')[1] == lab0 for p in paths()), f'class {lab0} only')
        j0 = paths().index(p0)
        assert shown(j0) == 'delete'
        jk = next(j for j,p in enumerate(paths()) if p not in (p0, p1, p2))
        pk = path_of(jk); choose(jk, 'keep')
        until(lambda: len(marks()) == 4, 'fourth mark')
        pg.locator('.cw-split select').select_option('valid')
        until(lambda: all(p.startswith('valid/') for p in paths()) and pk not in paths(), 'valid only')
        pg.locator('.cw-split select').select_option('all'); pg.locator('.cw-class select').select_option('all')
        until(lambda: paths() == first_page, 'back to all')   # both filters re-rendered, not only the first
        until(lambda: (shown(0), shown(1)) == ('delete', f'relabel → {to1}'), 'page-1 choices shown again')
        assert marks() == {p0: ('delete', None), p1: ('relabel', to1), p2: ('delete', None), pk: ('keep', None)}
        assert snapshot(root) == before

        # Apply shows the plan first (nothing moves), then Confirm moves the files
        pg.locator('.cw-apply').click()
        pg.wait_for_selector('.cw-plan')
        plan = pg.locator('.cw-plan').inner_text()
        assert p0 in plan and p1 in plan and p2 in plan and pk not in plan
        assert snapshot(root) == before
        pg.locator('.cw-confirm').click()
        until(lambda: 'Applied' in pg.locator('.cw-msg').inner_text(), 'applied')
        after = snapshot(root)
        for p in (p0, p2):
            assert p not in after and file_sha(root/STATE/'quarantine'/p) == before[p]
        new1 = str(Path(p1).parent.parent/to1/Path(p1).name).replace(os.sep, '/')
        assert p1 not in after and any(k.startswith(new1[:-4]) and v == before[p1] for k,v in after.items() if k.startswith(f'train/{to1}/'))
        assert len(after) == len(before) - 2 and pk in after
        assert shown(0).startswith('applied')

        # Undo puts every file back, byte-identical, and the choices are pending again
        pg.locator('.cw-undo').click()
        until(lambda: 'Undone' in pg.locator('.cw-msg').inner_text(), 'undone')
        assert snapshot(root) == before
        assert not list((root/STATE/'quarantine').rglob('*.png'))
        until(lambda: shown(0) == 'delete', 'choice shown again')
        b.close()

def test_gallery_in_chromium_then_cli(flipped, tmp_path, chromium):
    "Where widgets don't render: choose in the static gallery, download decisions.csv, apply and undo with the CLI."
    from playwright.sync_api import sync_playwright
    root, df, cand = flipped
    before = snapshot(root)
    r = run_cli('clean', 'gallery', root, cand, '--out', tmp_path/'gal')
    assert r.returncode == 0, r.stderr
    page_html = tmp_path/'gal'/'gallery.html'
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page(accept_downloads=True)
        pg.goto(page_html.as_uri())
        figs = pg.locator('figure')
        assert figs.count() == len(df)
        sel = lambda j: figs.nth(j).locator('select')
        sel(0).select_option(label='delete'); sel(1).select_option(label=f"relabel → {df.pred[1]}"); sel(2).select_option(label='keep')
        pg.locator('#flt').select_option(df.label[3])            # filtering hides figures but keeps choices
        assert figs.nth(0).is_hidden() == (df.label[0] != df.label[3])
        pg.locator('#flt').select_option('')
        with pg.expect_download() as dl: pg.locator('#dl').click()
        dl.value.save_as(tmp_path/'decisions.csv')
        b.close()
    dec = pd.read_csv(tmp_path/'decisions.csv', dtype=str, keep_default_na=False)
    assert list(dec.decision) == ['delete', 'relabel', 'keep'] and dec.to[1] == df.pred[1]
    assert snapshot(root) == before
    r = run_cli('clean', 'apply', root, '--csv', tmp_path/'decisions.csv')
    assert r.returncode == 0 and '1 to quarantine, 1 relabelled' in r.stdout, r.stdout + r.stderr
    rel0 = dec.path[0]
    assert not (root/rel0).exists() and file_sha(root/STATE/'quarantine'/rel0) == before[rel0]
    r = run_cli('clean', 'undo', root)
    assert r.returncode == 0 and 'put back 2 files' in r.stdout, r.stdout
    assert snapshot(root) == before

SHOTS = Path(os.environ.get('COMPANION_SHOTS', '')) if os.environ.get('COMPANION_SHOTS') else None   # keep screenshots to look at

def _shot(pg, tmp_path, name):
    pg.screenshot(path=str(tmp_path/name))
    if SHOTS: SHOTS.mkdir(parents=True, exist_ok=True); shutil.copy(tmp_path/name, SHOTS/name)

def test_widget_compact_one_click_accept(flipped, tmp_path, chromium):
    "At 1400×1100: at least 20 whole cards on screen, Apply always in view; one click accepts the suggestion, Apply + Confirm moves the file, the card says where it went, counts stay right."
    from playwright.sync_api import sync_playwright
    root, df, csv = flipped
    before = snapshot(root)
    with serve_voila(root, csv, tmp_path) as url, sync_playwright() as pw:   # the default page size
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page(viewport=dict(width=1400, height=1100))
        pg.goto(url, timeout=120_000)
        pg.wait_for_selector('.cw-card', timeout=120_000)
        until(lambda: pg.locator('.cw-card:visible img').first.evaluate('i => i.naturalWidth') > 0, 'thumbnails drawn')
        in_view = lambda sel: pg.evaluate("""s => [...document.querySelectorAll(s)].filter(e => { const r = e.getBoundingClientRect();
            return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth }).length""", sel)
        assert in_view('.cw-card') >= 20, in_view('.cw-card')
        assert in_view('.cw-apply') == 1
        _shot(pg, tmp_path, 'widget_compact.png')
        pg.set_viewport_size(dict(width=1400, height=500))                  # a smaller window: the page scrolls, Apply stays in view
        pg.mouse.move(700, 400); pg.mouse.wheel(0, 3000)
        scrolled = "() => Math.max(scrollY, ...[...document.querySelectorAll('*')].map(e => e.scrollTop))"   # voila scrolls an inner element
        until(lambda: pg.evaluate(scrolled) > 200, 'the page scrolled')
        assert in_view('.cw-apply') == 1
        _shot(pg, tmp_path, 'widget_scrolled.png')
        pg.mouse.wheel(0, -5000); until(lambda: pg.evaluate(scrolled) == 0, 'back at the top')
        pg.set_viewport_size(dict(width=1400, height=1100))

        card = pg.locator('.cw-card:visible').first
        rel = card.locator('.cw-path').inner_text()
        to = df.set_index('path').loc[str(root/rel), 'pred']
        assert card.locator('.cw-accept').inner_text().strip() == f'✓ {to}'
        card.locator('.cw-accept').click()                                     # one click
        until(lambda: {k: (v['action'], v.get('to')) for k,v in Cleaner(root).marks.items()} == {rel: ('relabel', to)}, 'the mark in the journal')
        counts = pg.locator('.cw-counts')
        until(lambda: 'pending: 0 delete, 1 relabel, 0 keep' in counts.inner_text(), 'pending count')
        assert snapshot(root) == before
        pg.locator('.cw-apply').click(); pg.wait_for_selector('.cw-plan')
        pg.locator('.cw-confirm').click()
        until(lambda: 'Applied' in pg.locator('.cw-msg').inner_text(), 'applied')
        dst = Cleaner(root).moved[rel].dst
        assert dst.startswith(f'{rel.split("/")[0]}/{to}/') and not (root/rel).exists() and file_sha(root/dst) == before[rel]
        until(lambda: 'applied: 0 in quarantine, 1 relabelled' in counts.inner_text() and 'pending: 0 delete, 0 relabel' in counts.inner_text(), 'counts after apply')
        where = card.locator('.cw-where')
        until(lambda: dst in where.inner_text(), 'the card says where the file is')
        assert f'relabelled → {to}' in where.inner_text()
        for el in (where, where.locator('.widget-html-content'), card):            # nothing clipped
            sw, cw = el.evaluate('e => [e.scrollWidth, e.clientWidth]')
            assert sw <= cw, (sw, cw)
        assert not card.locator('.cw-choice').is_visible()
        _shot(pg, tmp_path, 'widget_applied.png')
        pg.locator('.cw-undo').click()
        until(lambda: 'Undone' in pg.locator('.cw-msg').inner_text(), 'undone')
        assert snapshot(root) == before
        until(lambda: 'pending: 0 delete, 1 relabel' in counts.inner_text() and 'applied: 0 in quarantine, 0 relabelled' in counts.inner_text(), 'counts after undo')
        b.close()

def test_gallery_keeps_choices_filters_and_pages(flipped, tmp_path, chromium):
    "The static gallery: choices survive a reload, a count of them, a split filter, pages, and a page that fits a phone."
    from playwright.sync_api import sync_playwright
    root, df, _ = flipped
    html_fn = gallery(df, root=root, dest=tmp_path/'gal', per_page=20)
    rels = [Path(p).relative_to(root).as_posix() for p in df.path]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        ctx = b.new_context(viewport=dict(width=1400, height=1100), accept_downloads=True); pg = ctx.new_page()
        pg.goto(html_fn.as_uri())
        shown = lambda: pg.locator('figure:visible select').evaluate_all('ss => ss.map(s => s.dataset.path)')
        n_pages = -(-len(df) // 20)
        assert shown() == rels[:20] and pg.locator('#page').inner_text() == f'page 1 of {n_pages} ({len(df)} listed)'
        sel = lambda rel: pg.locator(f'select[data-path="{rel}"]')
        sel(rels[0]).select_option(label='delete'); sel(rels[1]).select_option(label=f'relabel → {df.pred[1]}')
        pg.locator('#next').click()
        assert shown() == rels[20:40] and pg.locator('#page').inner_text().startswith('page 2 of')
        sel(rels[25]).select_option(label='keep')
        count = '3 chosen: 1 delete, 1 relabel, 1 keep'
        assert pg.locator('#count').inner_text() == count
        _shot(pg, tmp_path, 'gallery_page2.png')
        pg.reload()                                                                  # the browser kept the choices
        assert [sel(r).input_value() for r in rels[:2] + [rels[25]]] == ['delete', f'relabel:{df.pred[1]}', 'keep']
        assert pg.locator('#count').inner_text() == count and shown() == rels[:20]
        pg.locator('#split').select_option('valid')
        valid = [r for r,s in zip(rels, df.split) if s == 'valid']
        assert shown() == valid[:20] and pg.locator('#page').inner_text() == f'page 1 of {-(-len(valid) // 20)} ({len(valid)} listed)'
        pg.locator('#split').select_option('train'); pg.locator('#flt').select_option(df.label[0])
        assert shown() == [r for r,s,l in zip(rels, df.split, df.label) if s == 'train' and l == df.label[0]][:20]
        with pg.expect_download() as dl: pg.locator('#dl').click()                  # the CSV has every choice, filtered out or not
        dl.value.save_as(tmp_path/'decisions.csv')
        dec = pd.read_csv(tmp_path/'decisions.csv', dtype=str, keep_default_na=False)
        assert dict(zip(dec.path, dec.decision)) == {rels[0]: 'delete', rels[1]: 'relabel', rels[25]: 'keep'}
        phone = ctx.new_page(); phone.set_viewport_size(dict(width=390, height=844))    # a phone-sized window, same browser
        phone.goto(html_fn.as_uri())
        assert 'width=device-width' in phone.locator('meta[name=viewport]').get_attribute('content')
        assert phone.evaluate('document.scrollingElement.scrollWidth <= innerWidth')  # no sideways scrolling
        assert phone.locator('#count').inner_text() == count                          # the same browser's storage
        _shot(phone, tmp_path, 'gallery_phone.png')
        b.close()

WIDEST = """() => { const root = document.querySelector('.cw-root'), x0 = root.getBoundingClientRect().left;
  const seen = [...root.querySelectorAll('*')].filter(e => e.offsetWidth > 0);
  return {width: Math.max(root.scrollWidth, ...seen.map(e => Math.ceil(e.getBoundingClientRect().right - x0))),
          clipped: [...root.querySelectorAll('button')].filter(e => e.offsetWidth > 0 && e.scrollWidth > e.clientWidth).map(e => e.textContent)} }"""

def test_widget_fits_360px(tmp_path, chromium):
    "In a 360 px wide window (a phone, a narrow notebook) nothing of the widget reaches past 360 px and every button reads in full ('✓ seven', 'Apply…')."
    from playwright.sync_api import sync_playwright
    from standins import unsplit_folder, NAMES
    root = unsplit_folder(tmp_path/'digits', n_per_class=2, classes=range(8))
    fs = sorted(root.glob('*/*.*'))
    pd.DataFrame(dict(path=[str(f) for f in fs], label=[f.parent.name for f in fs], pred=[NAMES[7 - NAMES.index(f.parent.name)] for f in fs],
                      loss=2.5, why='high loss')).to_csv(tmp_path/'cands.csv', index=False)
    with serve_voila(root, tmp_path/'cands.csv', tmp_path, COMPANION_CLEAN_PER_PAGE='4') as url, sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROME_ARGS)
        pg = b.new_page(viewport=dict(width=360, height=900))
        pg.goto(url, timeout=120_000)
        pg.wait_for_selector('.cw-card', timeout=120_000)
        until(lambda: pg.locator('.cw-card:visible img').first.evaluate('i => i.naturalWidth') > 0, 'thumbnails drawn')
        m = pg.evaluate(WIDEST)
        accept = pg.locator('.cw-card:visible .cw-accept').all_inner_texts()
        _shot(pg, tmp_path, 'widget_360.png')
        b.close()
    assert m['width'] <= 360 and not m['clipped'], m
    assert len(accept) == 4 and all(t.strip().startswith('✓ ') and len(t.strip()) > 4 for t in accept), accept
